import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeBackendConformance, itIfAvailable, noise } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { createDirBackend } from '../src/index.js';
import { expectEverything, writeEverything, xattrToolsUnavailable } from './fidelity-fixture.js';
import { tempDir } from './helpers.js';

const xattrMissing = xattrToolsUnavailable();
const MIB = 1 << 20;
const fork = { capacityBytes: 1 << 30 };

/** Bytes in use on the filesystem holding `path`, after flushing everything. */
async function usedOnDisk(path: string): Promise<number> {
  execFileSync('sync');
  const s = await statfs(path);
  return (s.blocks - s.bfree) * s.bsize;
}

describeWith('btrfs', 'dir backend on a loopback btrfs', () => {
  let fs: LoopBtrfs | undefined;
  const root = () => {
    if (!fs) throw new Error('no loopback btrfs');
    return mkdtempSync(join(fs.mountPoint, 'root-'));
  };
  beforeAll(async () => {
    fs = await createLoopBtrfs({ prefix: 'cachevol-test-dirbtrfs-', sizeBytes: 512 * MIB });
  });
  afterAll(() => fs?.destroy());

  const fresh = () => {
    const backend = createDirBackend({ root: root(), reflink: 'always' });
    return { backend, cleanup: () => rmSync(backend.root, { recursive: true, force: true }) };
  };
  describeBackendConformance('dir on btrfs (reflink always)', {
    create: fresh,
    peer: fresh,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
  });

  it('declares copyOnWrite with reflink auto and always, and not with never', () => {
    expect(createDirBackend({ root: root() }).capabilities.copyOnWrite).toBe(true);
    expect(createDirBackend({ root: root(), reflink: 'always' }).capabilities.copyOnWrite).toBe(true);
    expect(createDirBackend({ root: root(), reflink: 'never' }).capabilities.copyOnWrite).toBe(false);
  });

  itIfAvailable(
    xattrMissing ?? undefined,
    'keeps device files, FIFOs, sockets, xattrs, hard links, sparse files and owners in reflink copies',
    async () => {
      const backend = createDirBackend({ root: root(), reflink: 'always' });
      const options = { outside: tempDir(), asRoot: true };
      const a = await backend.createFork('f1', fork);
      await writeEverything(a.mountPath, options);
      await backend.commitFork('f1', 'v1');
      const b = await backend.forkVersion('f2', 'v1', fork);
      expect(await backend.hasChanges('f2')).toBe(false);
      await writeFile(join(b.mountPath, 'more'), 'x');
      await backend.commitFork('f2', 'v2');
      await expectEverything((await backend.forkVersion('f3', 'v2', fork)).mountPath, options);
    },
  );

  it('forks a large version without doubling the space used', async () => {
    const backend = createDirBackend({ root: root(), reflink: 'always' });
    const a = await backend.createFork('f1', fork);
    const data = noise(64 * MIB, 42);
    await writeFile(join(a.mountPath, 'big.bin'), data);
    expect((await backend.commitFork('f1', 'v1')).usedBytes).toBe(64 * MIB);

    const before = await usedOnDisk(backend.root);
    const forks = await Promise.all(['f2', 'f3'].map((id) => backend.forkVersion(id, 'v1', fork)));
    const grew = (await usedOnDisk(backend.root)) - before;
    expect(grew, `two forks of a 64 MiB version used ${grew} more bytes`).toBeLessThan(4 * MIB);
    // Usage stays logical: each fork holds 64 MiB of files.
    expect((await backend.usage('fork', 'f2')).usedBytes).toBe(64 * MIB);

    // Writing into one fork leaves the version and the other fork unchanged.
    const [f2, f3] = forks as [{ mountPath: string }, { mountPath: string }];
    await writeFile(join(f2.mountPath, 'big.bin'), 'changed');
    expect((await readFile(join(f3.mountPath, 'big.bin'))).equals(data)).toBe(true);
    expect((await readFile(join(backend.root, 'versions', 'v1', 'big.bin'))).equals(data)).toBe(true);
  });
});
