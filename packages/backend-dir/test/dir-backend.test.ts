import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { itWith } from '../../../test-support/gate.js';
import { waitFor } from '../../../test-support/wait.js';
import { createDirBackend } from '../src/index.js';
import { rejection, tempDir, thrown } from './helpers.js';

const fork = { capacityBytes: 1 << 30 };
const isRoot = process.getuid?.() === 0;

describe('createDirBackend options and root', () => {
  it('names the bad option in INVALID_ARGUMENT errors', () => {
    const cases: [unknown, string][] = [
      [{}, 'root'],
      [{ root: '' }, 'root'],
      [{ root: tempDir(), reflink: 'sometimes' }, 'reflink'],
      [{ root: tempDir(), extra: true }, 'extra'],
    ];
    for (const [options, name] of cases) {
      const error = thrown(() => createDirBackend(options as never));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(name);
    }
  });

  it('creates a missing root and its areas, and reports the canonical path', async () => {
    const parent = tempDir();
    const backend = createDirBackend({ root: join(parent, 'a', 'b') });
    expect(backend.name).toBe('dir');
    expect(backend.root).toBe(join(parent, 'a', 'b'));
    expect((await readdir(backend.root)).sort()).toEqual(['bases', 'forks', 'tmp', 'trash', 'versions']);
    expect(await backend.list()).toEqual([]);
  });

  it('refuses a root that is a file, or under a file, with BACKEND_UNAVAILABLE', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    for (const root of [file, join(file, 'below')]) {
      const error = thrown(() => createDirBackend({ root }));
      expect(error.code).toBe('BACKEND_UNAVAILABLE');
      expect(error.message).toContain(root);
      expect(error.message).toContain('not a directory');
    }
  });

  it('refuses a root that is not writable with BACKEND_UNAVAILABLE', () => {
    const root = tempDir();
    if (isRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'cachevol-test-ro', root]);
    else mkdirSync(root, { recursive: true, mode: 0o500 });
    try {
      const error = thrown(() => createDirBackend({ root }));
      expect(error.code).toBe('BACKEND_UNAVAILABLE');
      expect(error.message).toContain(root);
    } finally {
      if (isRoot) execFileSync('umount', [root]);
    }
  });

  it('declares honest capabilities; reflink "always" works exactly where "auto" clones', () => {
    const auto = createDirBackend({ root: tempDir() });
    expect(auto.capabilities).toMatchObject({
      quota: false,
      constantTime: false,
      transfer: true,
      changeDetection: true,
    });
    expect(createDirBackend({ root: tempDir(), reflink: 'never' }).capabilities.copyOnWrite).toBe(false);
    if (auto.capabilities.copyOnWrite) {
      expect(createDirBackend({ root: tempDir(), reflink: 'always' }).capabilities.copyOnWrite).toBe(true);
    } else {
      const error = thrown(() => createDirBackend({ root: tempDir(), reflink: 'always' }));
      expect(error.code).toBe('BACKEND_UNAVAILABLE');
      expect(error.message).toMatch(/reflink/);
    }
  });
});

describe('copies keep what a cache needs and never leave the tree', () => {
  it('copies symlinks as symlinks, never following them out of the tree', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const outside = tempDir();
    await writeFile(join(outside, 'secret.txt'), 'outside data');
    const a = await backend.createFork('f1', fork);
    await writeFile(join(a.mountPath, 'target.txt'), 'inside');
    await symlink('target.txt', join(a.mountPath, 'relative'));
    await symlink(join(outside, 'secret.txt'), join(a.mountPath, 'absolute'));
    await symlink(outside, join(a.mountPath, 'dir-outside'));
    await symlink('../../../../etc', join(a.mountPath, 'climbing'));
    await symlink('missing', join(a.mountPath, 'dangling'));
    const used = await backend.commitFork('f1', 'v1');
    // Links count by their own length, not by what they point at.
    expect(used.usedBytes).toBeLessThan('inside'.length + 200);

    const b = await backend.forkVersion('f2', 'v1', fork);
    for (const name of ['relative', 'absolute', 'dir-outside', 'climbing', 'dangling']) {
      expect((await lstat(join(b.mountPath, name))).isSymbolicLink(), name).toBe(true);
      expect(await readlink(join(b.mountPath, name))).toBe(
        await readlink(join(backend.root, 'versions', 'v1', name)),
      );
    }
    expect(await readdir(b.mountPath)).not.toContain('secret.txt');
    expect(await backend.hasChanges('f2')).toBe(false);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('outside data');
    // Removing the fork removes the links, not their targets.
    await backend.discardFork('f2');
    await backend.removeVersion('v1');
    expect(await readdir(outside)).toEqual(['secret.txt']);
  });

  it('treats a version or fork path replaced by a symlink as missing', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const outside = tempDir();
    await writeFile(join(outside, 'x'), 'x');
    await symlink(outside, join(backend.root, 'versions', 'v9'));
    expect((await rejection(backend.forkVersion('f1', 'v9', fork))).code).toBe('NOT_FOUND');
    expect((await rejection(backend.usage('version', 'v9'))).code).toBe('NOT_FOUND');
    await symlink(outside, join(backend.root, 'forks', 'f8'));
    expect((await rejection(backend.commitFork('f8', 'v8'))).code).toBe('NOT_FOUND');
    await backend.removeVersion('v9');
    await backend.discardFork('f8');
    expect(await readdir(outside)).toEqual(['x']);
    expect(await backend.list()).toEqual([]);
  });

  itWith(
    'root',
    'removes a version and discards a fork that hold immutable and append-only files',
    async () => {
      const backend = createDirBackend({ root: tempDir(), reflink: 'never' });
      const a = await backend.createFork('f1', fork);
      await mkdir(join(a.mountPath, 'c'));
      await writeFile(join(a.mountPath, 'c', 'immutable'), 'i');
      await writeFile(join(a.mountPath, 'c', 'append-only'), 'a');
      execFileSync('chattr', ['+i', join(a.mountPath, 'c', 'immutable')]);
      execFileSync('chattr', ['+a', join(a.mountPath, 'c', 'append-only')]);
      await backend.commitFork('f1', 'v1');
      const b = await backend.forkVersion('f2', 'v1', fork);
      await backend.removeVersion('v1');
      await backend.discardFork('f2');
      expect(existsSync(b.mountPath)).toBe(false);
      expect(await backend.list()).toEqual([]);
    },
  );

  it('keeps modes, timestamps, hard links, read-only directories and FIFOs', async () => {
    const backend = createDirBackend({ root: tempDir(), reflink: 'never' });
    const a = await backend.createFork('f1', fork);
    const then = new Date('2001-02-03T04:05:06.789Z');
    await writeFile(join(a.mountPath, 'run.sh'), '#!/bin/sh\n');
    await chmod(join(a.mountPath, 'run.sh'), 0o751);
    await writeFile(join(a.mountPath, 'private'), 'p');
    await chmod(join(a.mountPath, 'private'), 0o600);
    await utimes(join(a.mountPath, 'private'), then, then);
    await link(join(a.mountPath, 'private'), join(a.mountPath, 'private-link'));
    await mkdir(join(a.mountPath, 'ro', 'deep'), { recursive: true });
    await writeFile(join(a.mountPath, 'ro', 'deep', 'file'), 'f');
    await utimes(join(a.mountPath, 'ro', 'deep'), then, then);
    await chmod(join(a.mountPath, 'ro', 'deep'), 0o555);
    await chmod(join(a.mountPath, 'ro'), 0o555);
    execFileSync('mkfifo', [join(a.mountPath, 'fifo')]);
    const used = await backend.commitFork('f1', 'v1');
    expect(used.usedBytes).toBe('#!/bin/sh\n'.length + 1 + 1);

    const b = await backend.forkVersion('f2', 'v1', fork);
    const mode = async (p: string) => (await lstat(join(b.mountPath, p))).mode & 0o7777;
    expect(await mode('run.sh')).toBe(0o751);
    expect(await mode('private')).toBe(0o600);
    expect(await mode('ro')).toBe(0o555);
    expect(await mode('ro/deep')).toBe(0o555);
    expect((await stat(join(b.mountPath, 'private'))).mtime.getTime()).toBe(then.getTime());
    expect((await stat(join(b.mountPath, 'ro', 'deep'))).mtime.getTime()).toBe(then.getTime());
    const [p, l] = await Promise.all([
      stat(join(b.mountPath, 'private')),
      stat(join(b.mountPath, 'private-link')),
    ]);
    expect(l.ino).toBe(p.ino);
    expect(p.nlink).toBe(2);
    expect((await lstat(join(b.mountPath, 'fifo'))).isFIFO()).toBe(true);
    expect(await readFile(join(b.mountPath, 'ro', 'deep', 'file'), 'utf8')).toBe('f');
    expect((await backend.usage('fork', 'f2')).usedBytes).toBe(used.usedBytes);
    expect(await backend.hasChanges('f2')).toBe(false);
    await backend.discardFork('f2');
    await backend.removeVersion('v1');
    expect(await backend.list()).toEqual([]);
  });
});

describe('progress, failures and leftovers', () => {
  it('reports progress of a many-file copy, from 0 (total unknown) to the total', async () => {
    const backend = createDirBackend({ root: tempDir(), reflink: 'never' });
    const a = await backend.createFork('f1', fork);
    const files = 200;
    const size = 4096;
    for (let i = 0; i < files; i++) {
      await mkdir(join(a.mountPath, `d${i % 10}`), { recursive: true });
      await writeFile(join(a.mountPath, `d${i % 10}`, `file-${i}`), Buffer.alloc(size, i));
    }
    await backend.commitFork('f1', 'v1');
    const seen: Progress[] = [];
    await backend.forkVersion('f2', 'v1', { ...fork, onProgress: (p) => seen.push(p) });
    const total = files * size;
    expect(seen[0]).toEqual({ doneBytes: 0, totalBytes: null });
    expect(seen.at(-1)).toEqual({ doneBytes: total, totalBytes: total });
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]?.totalBytes).toBe(total);
      expect(seen[i]?.doneBytes).toBeGreaterThanOrEqual(seen[i - 1]?.doneBytes ?? 0);
    }
  });

  it('cleans up the half-built copy when a fork fails, and creates nothing', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const a = await backend.createFork('f1', fork);
    await writeFile(join(a.mountPath, 'a'), 'a'.repeat(10_000));
    await writeFile(join(a.mountPath, 'b'), 'b'.repeat(10_000));
    await backend.commitFork('f1', 'v1');
    let calls = 0;
    const failing = {
      ...fork,
      onProgress: () => {
        if (++calls === 2) throw new Error('injected failure');
      },
    };
    const error = await rejection(backend.forkVersion('f2', 'v1', failing));
    expect(error.code).toBe('BACKEND_FAILED');
    expect(error.message).toContain('injected failure');
    expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
    expect(await readdir(join(backend.root, 'tmp'))).toEqual([]);
  });

  it('lists crash leftovers in tmp/ and trash/ under their id, and cleans them on discard/remove', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const leftover = async (area: string, name: string) => {
      await mkdir(join(backend.root, area, name, 'sub'), { recursive: true });
      await writeFile(join(backend.root, area, name, 'sub', 'partial'), 'half');
    };
    await leftover('tmp', 'fork.f7.0123456789ab');
    await leftover('tmp', 'fork.f7.ba9876543210');
    await leftover('trash', 'version.v3.0123456789ab');
    await leftover('trash', 'fork.f5.0123456789ab');
    await leftover('tmp', 'not-ours');
    await leftover('versions', 'Not.An.Id');
    const listed = (await backend.list()).map((e) => `${e.kind}:${e.id}`).sort();
    expect(listed).toEqual(['fork:f5', 'fork:f7', 'version:v3']);
    await backend.discardFork('f7');
    await backend.discardFork('f5');
    await backend.removeVersion('v3');
    expect(await backend.list()).toEqual([]);
    expect(await readdir(join(backend.root, 'tmp'))).toEqual(['not-ours']);
    expect(await readdir(join(backend.root, 'trash'))).toEqual([]);
  });

  itWith('root', 'fails a copy on a full filesystem with BACKEND_FAILED and leaves nothing', async () => {
    const root = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'cachevol-test-full', root]);
    try {
      const backend = createDirBackend({ root });
      const a = await backend.createFork('f1', fork);
      await writeFile(join(a.mountPath, 'big.bin'), Buffer.alloc(3 << 20, 1));
      await backend.commitFork('f1', 'v1');
      const error = await rejection(backend.forkVersion('f2', 'v1', fork));
      expect(error.code).toBe('BACKEND_FAILED');
      expect(error.message).toContain('full');
      expect(error.details.errno).toBe('ENOSPC');
      expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
      expect(await readdir(join(root, 'tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [root]);
    }
  });

  it('refuses to commit over an existing version and keeps the fork', async () => {
    const backend = createDirBackend({ root: tempDir() });
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    const b = await backend.createFork('f2', fork);
    await writeFile(join(b.mountPath, 'x'), 'x');
    expect((await rejection(backend.commitFork('f2', 'v1'))).code).toBe('ALREADY_EXISTS');
    expect(await readFile(join(b.mountPath, 'x'), 'utf8')).toBe('x');
  });

  it('reports NOT_FOUND when the version is removed while it is being copied', async () => {
    const backend = createDirBackend({ root: tempDir(), reflink: 'never' });
    const a = await backend.createFork('f1', fork);
    for (let i = 0; i < 20; i++) await writeFile(join(a.mountPath, `f${i}`), 'x'.repeat(1000));
    await backend.commitFork('f1', 'v1');
    const gone = join(backend.root, 'gone');
    const removing = {
      ...fork,
      onProgress: () => {
        if (!existsSync(gone)) renameSync(join(backend.root, 'versions', 'v1'), gone);
      },
    };
    expect((await rejection(backend.forkVersion('f2', 'v1', removing))).code).toBe('NOT_FOUND');
    expect(await backend.list()).toEqual([]);
  });

  it('ends concurrent commits of the same fork with one version and the same usage', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const a = await backend.createFork('f1', fork);
    await writeFile(join(a.mountPath, 'a'), 'abc');
    const results = await Promise.all([1, 2, 3].map(() => backend.commitFork('f1', 'v1')));
    expect(results).toEqual([{ usedBytes: 3 }, { usedBytes: 3 }, { usedBytes: 3 }]);
    expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
  });

  it('ends concurrent forks of the same id with one fork and no leftovers', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const a = await backend.createFork('f1', fork);
    for (let i = 0; i < 50; i++) await writeFile(join(a.mountPath, `f${i}`), 'x'.repeat(1000));
    await backend.commitFork('f1', 'v1');
    const mounts = await Promise.all([1, 2, 3, 4].map(() => backend.forkVersion('f2', 'v1', fork)));
    expect(new Set(mounts.map((m) => m.mountPath)).size).toBe(1);
    expect((await readdir(mounts[0]?.mountPath ?? '')).length).toBe(50);
    expect(await readdir(join(backend.root, 'tmp'))).toEqual([]);
  });
});

/**
 * Waits until a file written now gets a later modification time than `path` has. File times
 * come from a clock that ticks every few milliseconds, so a same-size rewrite right after the
 * copy can keep the copy's mtime, and change detection compares mtimes.
 */
async function untilFileClockPasses(path: string): Promise<void> {
  const { mtimeMs } = await lstat(path);
  const probe = join(tempDir(), 'probe');
  await waitFor(
    async () => {
      await writeFile(probe, '');
      return (await stat(probe)).mtimeMs >= mtimeMs + 1;
    },
    { what: `the file clock to pass the mtime of ${path}`, intervalMs: 1 },
  );
}

describe('change detection', () => {
  async function setup() {
    const backend = createDirBackend({ root: tempDir() });
    const a = await backend.createFork('f1', fork);
    await mkdir(join(a.mountPath, 'dir'));
    await writeFile(join(a.mountPath, 'dir', 'file'), 'content');
    await symlink('dir/file', join(a.mountPath, 'link'));
    await backend.commitFork('f1', 'v1');
    return backend;
  }

  const changes: [string, (mount: string) => Promise<unknown>][] = [
    ['a rewrite with the same size', (m) => writeFile(join(m, 'dir', 'file'), 'CONTENT')],
    ['a chmod', (m) => chmod(join(m, 'dir', 'file'), 0o600)],
    ['a deletion', (m) => rm(join(m, 'dir', 'file'))],
    ['a rename', (m) => rename(join(m, 'dir', 'file'), join(m, 'dir', 'moved'))],
    ['a new empty directory', (m) => mkdir(join(m, 'new'))],
    [
      'a symlink pointed elsewhere',
      async (m) => {
        await rm(join(m, 'link'));
        await symlink('elsewhere', join(m, 'link'));
      },
    ],
  ];
  for (const [what, change] of changes) {
    it(`sees ${what}`, async () => {
      const backend = await setup();
      const b = await backend.forkVersion('f2', 'v1', fork);
      expect(await backend.hasChanges('f2')).toBe(false);
      await untilFileClockPasses(join(b.mountPath, 'dir', 'file'));
      await change(b.mountPath);
      expect(await backend.hasChanges('f2')).toBe(true);
    });
  }

  it('reports a change when the base version was removed, and NOT_FOUND once the fork is gone', async () => {
    const backend = await setup();
    await backend.forkVersion('f2', 'v1', fork);
    await backend.removeVersion('v1');
    expect(await backend.hasChanges('f2')).toBe(true);
    await backend.commitFork('f2', 'v2');
    expect((await rejection(backend.hasChanges('f2'))).code).toBe('NOT_FOUND');
    expect(await readdir(join(backend.root, 'bases'))).toEqual([]);
  });
});
