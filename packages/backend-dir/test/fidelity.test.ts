import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { itIfAvailable } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { createDirBackend, type ReflinkMode } from '../src/index.js';
import { expectEverything, writeEverything, xattrToolsUnavailable } from './fidelity-fixture.js';
import { tempDir, thrown } from './helpers.js';

const fork = { capacityBytes: 1 << 30 };
const isRoot = process.getuid?.() === 0;
const noXattrTools = xattrToolsUnavailable() ?? undefined;

/** Why a test that needs the attr tools (and, with `root`, root) cannot run here, or `undefined`. */
function unavailable(root: boolean): string | undefined {
  return noXattrTools ?? (root && !isRoot ? 'needs root (mknod, trusted.* attributes, chown)' : undefined);
}

describe('a volume behaves like a regular Linux filesystem across fork, commit and fork', () => {
  for (const reflink of ['never', 'auto'] as ReflinkMode[]) {
    for (const asRoot of [false, true]) {
      const what = asRoot
        ? 'device files, overlay whiteouts and opaque directories, trusted.* attributes and owners'
        : 'FIFOs, sockets, user.* attributes, hard links, sparse files, modes, times and symlinks';
      itIfAvailable(unavailable(asRoot), `keeps ${what} (reflink ${reflink})`, async () => {
        const backend = createDirBackend({ root: tempDir(), reflink });
        const options = { outside: tempDir(), asRoot };
        const first = await backend.createFork('f1', fork);
        await writeEverything(first.mountPath, options);
        await backend.commitFork('f1', 'v1');

        const second = await backend.forkVersion('f2', 'v1', fork);
        expect(await backend.hasChanges('f2')).toBe(false);
        await expectEverything(second.mountPath, options);
        await writeFile(join(second.mountPath, 'added-by-job-2'), 'x');
        expect(await backend.hasChanges('f2')).toBe(true);
        await backend.commitFork('f2', 'v2');

        const third = await backend.forkVersion('f3', 'v2', fork);
        await expectEverything(third.mountPath, options);
        expect(await readFile(join(third.mountPath, 'added-by-job-2'), 'utf8')).toBe('x');
        await expectEverything(join(backend.root, 'versions', 'v1'), options);
        expect(await readdir(join(backend.root, 'versions', 'v1'))).not.toContain('added-by-job-2');
      });
    }
  }

  it('sees a FIFO replaced by a regular file, and (as root) a device number changed', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const a = await backend.createFork('f1', fork);
    execFileSync('mkfifo', [join(a.mountPath, 'fifo')]);
    if (isRoot) execFileSync('mknod', [join(a.mountPath, 'device'), 'c', '1', '3']);
    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    expect(await backend.hasChanges('f2')).toBe(false);
    await rm(join(b.mountPath, 'fifo'));
    await writeFile(join(b.mountPath, 'fifo'), '');
    expect(await backend.hasChanges('f2')).toBe(true);
    if (!isRoot) return;
    const c = await backend.forkVersion('f3', 'v1', fork);
    await rm(join(c.mountPath, 'device'));
    execFileSync('mknod', [join(c.mountPath, 'device'), 'c', '1', '5']);
    expect(await backend.hasChanges('f3')).toBe(true);
  });
});

describe('nothing is followed out of a fork or version', () => {
  it('copies and discards a cache directory replaced by a symlink without touching its target', async () => {
    const parent = tempDir();
    const backend = createDirBackend({ root: join(parent, 'volumes') });
    await writeFile(join(parent, 'next-to-the-root.txt'), 'keep me');
    const outside = tempDir();
    await mkdir(join(outside, 'etc'));
    await writeFile(join(outside, 'etc', 'passwd'), 'root:x:0:0');

    const a = await backend.createFork('f1', fork);
    // A job replaced the directories it caches by links: to a system directory, and climbing
    // out of the fork to the backend root's parent.
    await symlink(join(outside, 'etc'), join(a.mountPath, 'node_modules'));
    await symlink('../..', join(a.mountPath, 'cache'));
    await symlink('../../..', join(a.mountPath, 'deeper'));
    await backend.commitFork('f1', 'v1');

    const b = await backend.forkVersion('f2', 'v1', fork);
    for (const [name, target] of [
      ['node_modules', join(outside, 'etc')],
      ['cache', '../..'],
      ['deeper', '../../..'],
    ] as const) {
      expect((await lstat(join(b.mountPath, name))).isSymbolicLink(), name).toBe(true);
      expect(await readlink(join(b.mountPath, name))).toBe(target);
    }
    expect((await backend.usage('fork', 'f2')).usedBytes).toBeLessThan(100);
    await backend.discardFork('f2');
    await backend.removeVersion('v1');

    expect(await backend.list()).toEqual([]);
    expect(await readFile(join(outside, 'etc', 'passwd'), 'utf8')).toBe('root:x:0:0');
    expect(await readFile(join(parent, 'next-to-the-root.txt'), 'utf8')).toBe('keep me');
    expect((await readdir(join(backend.root, 'versions'))).length).toBe(0);
    expect(await readdir(parent)).toEqual(['next-to-the-root.txt', 'volumes']);
  });

  it('refuses a root whose versions or forks area is a symlink', async () => {
    for (const area of ['versions', 'forks', 'trash']) {
      const root = tempDir();
      const outside = tempDir();
      await writeFile(join(outside, 'precious'), 'p');
      await symlink(outside, join(root, area));
      const error = thrown(() => createDirBackend({ root }));
      expect(error.code, area).toBe('BACKEND_UNAVAILABLE');
      expect(error.message).toContain(`${area} is a symlink`);
      expect(await readdir(outside)).toEqual(['precious']);
    }
  });
});
