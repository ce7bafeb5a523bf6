import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isCacheVolumeError } from '@cachevol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test-support/gate.js';
import { waitFor } from '../../../test-support/wait.js';
import { type BtrfsBackend, createBtrfsBackend } from '../src/index.js';
import {
  createLoopBtrfs,
  btrfsFileAccess as files,
  type LoopBtrfs,
  leftovers,
  removeAll,
  run,
} from './helpers/loop-btrfs.js';

const MIB = 1 << 20;
const fork = { capacityBytes: 256 * MIB };
let fs: LoopBtrfs;

async function backend(options: { quota?: boolean } = {}): Promise<BtrfsBackend> {
  return createBtrfsBackend({ root: await fs.freshRoot(), ...options });
}

async function expectNothingLeft(b: BtrfsBackend): Promise<void> {
  expect(await b.list()).toEqual([]);
  expect(await leftovers(b.root)).toEqual([]);
  expect(await fs.subvolumesUnder(b.root)).toEqual([]);
  expect(await fs.staleQgroups()).toEqual([]);
}

describeWith('btrfs', 'btrfs backend on a loopback btrfs', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
  });

  describe('removal', () => {
    it('removes a version with live descendants: its subvolume goes, descendants keep their data', async () => {
      const b = await backend();
      const a = await b.createFork('f1', fork);
      await files.write(a.mountPath, 'data.txt', 'v1 data');
      await b.commitFork('f1', 'v1');
      const child = await b.forkVersion('f2', 'v1', fork);
      await b.forkVersion('f3', 'v1', fork);
      await b.commitFork('f3', 'v2');
      await b.list(); // waits for the fork's delete, which runs after the commit returned
      expect((await fs.subvolumesUnder(b.root)).sort()).toEqual(['forks/f2', 'versions/v1', 'versions/v2']);
      await b.removeVersion('v1');
      expect((await fs.subvolumesUnder(b.root)).sort()).toEqual(['forks/f2', 'versions/v2']);
      expect(await files.read(child.mountPath, 'data.txt')).toBe('v1 data');
      const again = await b.forkVersion('f4', 'v2', fork);
      expect(await files.read(again.mountPath, 'data.txt')).toBe('v1 data');
      await removeAll(b);
      await expectNothingLeft(b);
    });

    it('shares data between versions and forks, and reclaims the space once all are removed', async () => {
      const b = await backend();
      const baseline = await fs.usedBytes();
      const a = await b.createFork('f1', fork);
      await files.fill(a.mountPath, 'big.bin', 96 * MIB);
      await b.commitFork('f1', 'v1');
      const written = await fs.usedBytes();
      expect(written - baseline).toBeGreaterThan(90 * MIB);
      // Constant-time fork and commit: no file data is copied.
      await b.forkVersion('f2', 'v1', fork);
      await b.commitFork('f2', 'v2');
      await b.forkVersion('f3', 'v2', fork);
      expect((await fs.usedBytes()) - written).toBeLessThan(8 * MIB);
      // The data stays while anything refers to it, and goes once nothing does (asynchronously).
      await b.removeVersion('v1');
      await b.removeVersion('v2');
      expect((await fs.usedBytes()) - baseline).toBeGreaterThan(90 * MIB);
      await b.discardFork('f3');
      // fs.usedBytes() waits for the cleaner; the space it frees is counted a transaction later.
      await waitFor(async () => (await fs.usedBytes()) - baseline < 16 * MIB, {
        what: 'the space of the removed subvolumes to be freed',
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      await expectNothingLeft(b);
    });
  });

  describe('nested subvolumes', () => {
    async function forkWithNested(b: BtrfsBackend, forkId: string): Promise<string> {
      const { mountPath } = await b.createFork(forkId, fork);
      await files.write(mountPath, 'top.txt', 'top');
      await run('btrfs', ['subvolume', 'create', join(mountPath, 'nested')]);
      await run('btrfs', ['subvolume', 'create', join(mountPath, 'nested', 'deeper')]);
      await files.write(mountPath, 'nested/deeper/file.txt', 'deep');
      await mkdir(join(mountPath, 'dir'));
      await run('btrfs', [
        'subvolume',
        'snapshot',
        '-r',
        join(mountPath, 'nested'),
        join(mountPath, 'dir', 'frozen'),
      ]);
      return mountPath;
    }

    it('removes nested subvolumes (read-only ones too) when a fork is discarded', async () => {
      const b = await backend();
      await forkWithNested(b, 'f1');
      expect((await fs.subvolumesUnder(b.root)).sort()).toEqual([
        'forks/f1',
        'forks/f1/dir/frozen',
        'forks/f1/nested',
        'forks/f1/nested/deeper',
      ]);
      await b.discardFork('f1');
      await expectNothingLeft(b);
    });

    it('leaves nested subvolumes out of a commit and removes them with the fork', async () => {
      const b = await backend();
      await forkWithNested(b, 'f1');
      await b.commitFork('f1', 'v1');
      await b.list(); // waits for the fork's delete, which runs after the commit returned
      expect(await fs.subvolumesUnder(b.root)).toEqual(['versions/v1']);
      const next = await b.forkVersion('f2', 'v1', fork);
      expect(await files.list(next.mountPath)).toEqual(['top.txt']);
      await b.removeVersion('v1');
      await b.discardFork('f2');
      await expectNothingLeft(b);
    });
  });

  describe('usage and capacity', () => {
    it('reports qgroup usage that counts written data, for forks and the versions they become', async () => {
      const b = await backend();
      const a = await b.createFork('f1', fork);
      await files.fill(a.mountPath, 'a.bin', 8 * MIB);
      expect((await b.usage('fork', 'f1')).usedBytes).toBeGreaterThanOrEqual(8 * MIB);
      const committed = await b.commitFork('f1', 'v1');
      expect(committed.usedBytes).toBeGreaterThanOrEqual(8 * MIB);
      expect(committed.usedBytes).toBeLessThan(9 * MIB);
      expect((await b.usage('version', 'v1')).usedBytes).toBe(committed.usedBytes);
    });

    it('limits a fork of a version by what it references, shared data included', async () => {
      const b = await backend();
      const a = await b.createFork('f1', fork);
      await files.fill(a.mountPath, 'base.bin', 24 * MIB);
      await b.commitFork('f1', 'v1');
      const next = await b.forkVersion('f2', 'v1', { capacityBytes: 32 * MIB });
      const error = await files.fill(next.mountPath, 'more.bin', 16 * MIB).catch((e: unknown) => e);
      expect((error as NodeJS.ErrnoException)?.code).toBe('EDQUOT');
    });

    it('holds a limit after btrfs marked its qgroup numbers inconsistent (the fill rescans first)', async () => {
      // While qgroups are inconsistent btrfs skips their accounting, so a write passes any limit:
      // the cause of a conformance run that once wrote past capacity ("got undefined").
      const b = await backend();
      await b.ready(); // quotas on
      const scratch = await fs.freshRoot();
      const group = `1/${Date.now() % 100_000}`;
      await run('btrfs', ['qgroup', 'create', group, fs.mountPoint]);
      await run('btrfs', ['subvolume', 'create', join(scratch, 'src')]);
      await run('btrfs', ['subvolume', 'snapshot', '-i', group, join(scratch, 'src'), join(scratch, 'snap')]);
      expect(await fs.qgroupsInconsistent()).toBe(true);
      const a = await b.createFork('f1', { capacityBytes: 16 * MIB });
      const error = await files.fill(a.mountPath, 'big.bin', 24 * MIB).catch((e: unknown) => e);
      expect((error as NodeJS.ErrnoException)?.code).toBe('EDQUOT');
      expect(await fs.qgroupsInconsistent()).toBe(false);
      await run('btrfs', ['subvolume', 'delete', join(scratch, 'snap'), join(scratch, 'src')]);
      await removeAll(b);
      await expectNothingLeft(b); // waits for the cleaner, which drops the snapshot's qgroup
      await run('btrfs', ['qgroup', 'destroy', group, fs.mountPoint]);
    });

    it('refuses a bad capacity with INVALID_ARGUMENT and creates nothing', async () => {
      const b = await backend();
      for (const capacityBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = await b.createFork('f1', { capacityBytes }).catch((e: unknown) => e);
        expect(isCacheVolumeError(error, 'INVALID_ARGUMENT')).toBe(true);
      }
      expect(await b.list()).toEqual([]);
      const error = await b.usage('fork ' as never, 'f1').catch((e: unknown) => e);
      expect(isCacheVolumeError(error, 'INVALID_ARGUMENT')).toBe(true);
    });
  });

  describe('roots and set-up', () => {
    it('works with a root that is itself a subvolume, and with a nested directory as root', async () => {
      const parent = await fs.freshRoot();
      await run('btrfs', ['subvolume', 'create', join(parent, 'sv')]);
      await mkdir(join(parent, 'sv', 'deep', 'er'), { recursive: true });
      for (const root of [join(parent, 'sv'), join(parent, 'sv', 'deep', 'er')]) {
        const b = createBtrfsBackend({ root });
        const a = await b.createFork('f1', fork);
        await files.write(a.mountPath, 'x.txt', 'x');
        await b.commitFork('f1', 'v1');
        const c = await b.forkVersion('f2', 'v1', fork);
        expect(await files.read(c.mountPath, 'x.txt')).toBe('x');
        await removeAll(b);
        await expectNothingLeft(b);
      }
    });

    it('gives BACKEND_UNAVAILABLE when the btrfs program is missing, and touches nothing', async () => {
      const root = await fs.freshRoot();
      const b = createBtrfsBackend({ root, btrfs: '/nonexistent/bin/btrfs' });
      for (const attempt of [() => b.list(), () => b.createFork('f1', fork), () => b.ready()]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
        expect((error as Error).message).toMatch(/install btrfs-progs/);
      }
      expect(await readdir(root)).toEqual([]);
    });

    it('lists half-built and half-deleted entries under their ids, and removing them leaves nothing', async () => {
      const b = await backend();
      await b.ready();
      const made = [
        ['forks', '.tmp-f1'],
        ['forks', '.trash-f2'],
        ['versions', '.tmp-v1'],
        ['versions', '.trash-v2'],
      ];
      for (const [area, name] of made)
        await run('btrfs', ['subvolume', 'create', join(b.root, area as string, name as string)]);
      await run('btrfs', ['subvolume', 'create', join(b.root, 'forks', '.tmp-f1', 'nested')]);
      await mkdir(join(b.root, 'versions', 'not a cachevol name'));
      const listed = (await b.list()).map((e) => `${e.kind}:${e.id}`).sort();
      expect(listed).toEqual(['fork:f1', 'fork:f2', 'version:v1', 'version:v2']);
      await removeAll(b);
      expect(await b.list()).toEqual([]);
      expect(await fs.subvolumesUnder(b.root)).toEqual([]);
      expect(await leftovers(b.root)).toEqual(['versions/not a cachevol name']);
    });
  });
});
