import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noise } from '@cachevol/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test-support/gate.js';
import type { BtrfsBackend } from '../src/index.js';
import { btrfsBackendOn } from '../src/internal/backend.js';
import { type Host, nodeHost } from '../src/internal/host.js';
import { parseBtrfsBackendOptions } from '../src/options.js';
import {
  createLoopBtrfs,
  btrfsFileAccess as files,
  type LoopBtrfs,
  leftovers,
  run,
} from './helpers/loop-btrfs.js';

const KIB = 1 << 10;
const MIB = 1 << 20;
const fork = { capacityBytes: 64 * MIB };
let fs: LoopBtrfs;

/** A real host that records every `btrfs` command line, with the root written `<root>`. */
function recordingHost(root: string): Host & { commands: string[]; take(): string[] } {
  const real = nodeHost('btrfs');
  const commands: string[] = [];
  return {
    ...real,
    btrfs: (args) => {
      commands.push(args.join(' ').replaceAll(root, '<root>'));
      return real.btrfs(args);
    },
    commands,
    take: () => commands.splice(0),
  };
}

async function backend(quota: boolean): Promise<{ b: BtrfsBackend; host: ReturnType<typeof recordingHost> }> {
  const root = await fs.freshRoot();
  const host = recordingHost(root);
  const b = btrfsBackendOn(parseBtrfsBackendOptions({ root, quota }), host);
  await b.ready();
  host.take();
  return { b, host };
}

/** Writes `bytes` incompressible bytes without fsync: only a transaction commit counts them. */
async function writeUnsynced(mountPath: string, name: string, bytes: number, seed: number): Promise<void> {
  await writeFile(join(mountPath, name), noise(bytes, seed));
}

describeWith('btrfs', 'btrfs backend: the commands each operation runs, on a loopback btrfs', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
  });

  describe('with quota', () => {
    it('runs one command per step on the hot paths: fork, commit, discard, remove', async () => {
      const { b, host } = await backend(true);
      await b.createFork('f1', fork);
      expect(host.take()).toEqual([
        'subvolume create <root>/forks/.tmp-f1',
        `qgroup limit ${64 * MIB} <root>/forks/.tmp-f1`,
      ]);
      const v1 = await b.commitFork('f1', 'v1');
      // The usage comes from sysfs, and two steps run after the commit returned: the next
      // fork's limit set on the version, and the fork's delete (list() waits for both).
      await b.list();
      expect(host.take()).toEqual([
        'subvolume snapshot -r <root>/forks/f1 <root>/versions/v1',
        `qgroup limit ${v1.usedBytes + 64 * MIB} <root>/versions/v1`,
        'subvolume delete <root>/forks/.trash-f1',
      ]);
      await b.forkVersion('f2', 'v1', fork);
      expect(host.take()).toEqual([
        'subvolume snapshot <root>/versions/v1 <root>/forks/.tmp-f2',
        `qgroup limit ${64 * MIB} <root>/forks/.tmp-f2`,
      ]);
      await b.usage('fork', 'f2');
      await b.usage('version', 'v1');
      expect(host.take()).toEqual([
        'qgroup show --raw -f --sync <root>/forks/f2',
        'qgroup show --raw -f <root>/versions/v1',
      ]);
      await b.discardFork('f2');
      expect(host.take()).toEqual(['subvolume delete <root>/forks/.trash-f2']);
      await b.removeVersion('v1');
      expect(host.take()).toEqual([
        'subvolume delete <root>/versions/.trash-v1',
        'qgroup clear-stale <root>',
      ]);
      // Retries find the work done and run nothing.
      await b.commitFork('f1', 'v1').catch(() => undefined);
      await b.discardFork('f2');
      await b.removeVersion('v1');
      expect(host.take()).toEqual(['qgroup clear-stale <root>']);
      expect(await fs.staleQgroups()).toEqual([]);
    });

    it('gives a fork of a version it committed its limit by inheritance, with no qgroup limit, and it holds', async () => {
      const { b, host } = await backend(true);
      const size = 32 * MIB;
      const a = await b.createFork('f1', { capacityBytes: size });
      await files.fill(a.mountPath, 'base.bin', 8 * MIB);
      const v1 = await b.commitFork('f1', 'v1');
      await b.list();
      host.take();
      // What the engine asks for: the version's used bytes plus the requested size.
      const next = await b.forkVersion('f2', 'v1', { capacityBytes: v1.usedBytes + size });
      // One step, no temporary name: the snapshot makes the fork whole, limit included.
      expect(host.take()).toEqual(['subvolume snapshot <root>/versions/v1 <root>/forks/f2']);
      const error = await files.fill(next.mountPath, 'more.bin', size + 8 * MIB).catch((e: unknown) => e);
      expect((error as NodeJS.ErrnoException)?.code).toBe('EDQUOT');
      // Another capacity than the version's limit: the fork gets its own.
      await b.forkVersion('f3', 'v1', { capacityBytes: v1.usedBytes + 2 * size });
      expect(host.take()).toEqual([
        'subvolume snapshot <root>/versions/v1 <root>/forks/.tmp-f3',
        `qgroup limit ${v1.usedBytes + 2 * size} <root>/forks/.tmp-f3`,
      ]);
      // A backend that did not commit the version (another process) sets it too.
      const other = btrfsBackendOn(parseBtrfsBackendOptions({ root: b.root }), host);
      await other.ready();
      host.take();
      await other.commitFork('f2', 'v2');
      await other.list();
      expect(host.take()).toEqual([
        'subvolume snapshot -r <root>/forks/f2 <root>/versions/v2',
        'subvolume delete <root>/forks/.trash-f2',
      ]);
      expect(await fs.qgroupsInconsistent()).toBe(false);
    });

    it('deletes nested subvolumes only when btrfs refuses the plain delete', async () => {
      const { b, host } = await backend(true);
      const { mountPath } = await b.createFork('f1', fork);
      await run('btrfs', ['subvolume', 'create', join(mountPath, 'nested')]);
      await run('btrfs', ['subvolume', 'create', join(mountPath, 'nested', 'deeper')]);
      host.take();
      await b.commitFork('f1', 'v1');
      await b.list();
      const commands = host.take();
      expect(commands.slice(0, 3)).toEqual([
        'subvolume snapshot -r <root>/forks/f1 <root>/versions/v1',
        expect.stringMatching(/^qgroup limit \d+ <root>\/versions\/v1$/),
        'subvolume delete <root>/forks/.trash-f1',
      ]);
      // Found by their root inode, deepest first.
      expect(commands.slice(3)).toEqual([
        'subvolume delete <root>/forks/.trash-f1/nested/deeper',
        'subvolume delete <root>/forks/.trash-f1/nested',
        'subvolume delete <root>/forks/.trash-f1',
      ]);
      expect(await fs.subvolumesUnder(b.root)).toEqual(['versions/v1']);
      await b.removeVersion('v1');
      expect(await fs.subvolumesUnder(b.root)).toEqual([]);
      expect(await fs.staleQgroups()).toEqual([]);
    });

    it('counts writes that were never synced: fork usage, and the usage a commit returns', async () => {
      const { b } = await backend(true);
      // Data takes whole 4 KiB blocks; metadata adds a few 16 KiB tree blocks.
      const near = (used: number, bytes: number) => {
        expect(used).toBeGreaterThanOrEqual(bytes);
        expect(used).toBeLessThan(bytes + 64 * KIB);
      };
      const a = await b.createFork('f1', fork);
      const first = 5 * MIB + 12_345;
      await writeUnsynced(a.mountPath, 'one.bin', first, 1);
      near((await b.usage('fork', 'f1')).usedBytes, first);
      const second = 3 * MIB + 777;
      await writeUnsynced(a.mountPath, 'two.bin', second, 2);
      const v1 = await b.commitFork('f1', 'v1');
      near(v1.usedBytes, first + second);
      expect((await b.usage('version', 'v1')).usedBytes).toBe(v1.usedBytes);
      // A version made from a fork of a version references the shared data too.
      const c = await b.forkVersion('f2', 'v1', fork);
      const third = 2 * MIB + 1;
      await writeUnsynced(c.mountPath, 'three.bin', third, 3);
      const v2 = await b.commitFork('f2', 'v2');
      near(v2.usedBytes, first + second + third);
      expect((await b.usage('version', 'v2')).usedBytes).toBe(v2.usedBytes);
    });
  });

  describe('without quota', () => {
    it('runs no qgroup command, and measures with filesystem du', async () => {
      const { b, host } = await backend(false);
      const a = await b.createFork('f1', fork);
      await writeUnsynced(a.mountPath, 'one.bin', MIB, 1);
      const v1 = await b.commitFork('f1', 'v1');
      // The commit estimates (exact figures cost time in proportion to the files)...
      expect(v1).toEqual({ usedBytes: expect.any(Number), estimated: true });
      expect(v1.usedBytes).toBeGreaterThan(0);
      expect(v1.usedBytes).toBeLessThanOrEqual(MIB + 64 * KIB);
      await b.list();
      // ...and usage() measures once: versions are immutable, so the figure is kept.
      expect(await b.usage('version', 'v1')).toEqual({ usedBytes: MIB });
      expect(await b.usage('version', 'v1')).toEqual({ usedBytes: MIB });
      // A retried commit returns the measured figure.
      expect(await b.commitFork('f1', 'v1')).toEqual({ usedBytes: MIB });
      await b.forkVersion('f2', 'v1', fork);
      await b.discardFork('f2');
      await b.removeVersion('v1');
      expect(await leftovers(b.root)).toEqual([]);
      expect(host.take()).toEqual([
        // Forks need no temporary name without a limit to set: one step makes them whole.
        'subvolume create <root>/forks/f1',
        'subvolume snapshot -r <root>/forks/f1 <root>/versions/v1',
        'subvolume delete <root>/forks/.trash-f1',
        'filesystem du -s --raw <root>/versions/v1',
        'subvolume snapshot <root>/versions/v1 <root>/forks/f2',
        'subvolume delete <root>/forks/.trash-f2',
        'subvolume delete <root>/versions/.trash-v1',
      ]);
    });
  });
});
