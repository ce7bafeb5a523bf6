import { readdirSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join, relative } from 'node:path';
import type { Backend } from '@cachevol/core';
import { type FileAccess, nodeFileAccess } from '@cachevol/core/testing';
import { expect } from 'vitest';
import { createLoopBtrfs as createLoopFilesystem } from '../../../../test-support/loop-btrfs.js';
import { run, ToolFailed } from '../../../../test-support/run.js';
import { type BtrfsBackend, createBtrfsBackend } from '../../src/index.js';

export { run };

const MIB = 1 << 20;

/** A btrfs filesystem on a sparse loop file, mounted under a `cachevol-test-btrfs-` directory. */
export interface LoopBtrfs {
  /** Where the filesystem is mounted. */
  mountPoint: string;
  /** The loop device. */
  device: string;
  /** A new, empty directory on the filesystem, for one backend root. */
  freshRoot(): Promise<string>;
  /** Subvolumes (paths relative to `root`) that exist under `root`. */
  subvolumesUnder(root: string): Promise<string[]>;
  /** Whether btrfs quotas are on. */
  quotasEnabled(): Promise<boolean>;
  /** Whether btrfs has marked its qgroup numbers inconsistent (limits do not hold then). */
  qgroupsInconsistent(): Promise<boolean>;
  /** Level-0 qgroups whose subvolume no longer exists (after a commit and waiting for the cleaner). */
  staleQgroups(): Promise<string[]>;
  /**
   * Bytes allocated on the filesystem (`Used` of `btrfs filesystem usage -b`), after a sync and
   * after waiting for deleted subvolumes to be cleaned up.
   */
  usedBytes(): Promise<number>;
  /** Unmounts, detaches the loop device and removes the files. */
  destroy(): Promise<void>;
}

/**
 * Makes and mounts a btrfs filesystem on a sparse loop file (in a suite gated with
 * `describeWith('btrfs', …)`).
 *
 * @param sizeBytes - the loop file's size
 */
export async function createLoopBtrfs(sizeBytes = 1024 * MIB): Promise<LoopBtrfs> {
  const { mountPoint, device, destroy } = await createLoopFilesystem({ sizeBytes });
  let roots = 0;

  return {
    mountPoint,
    device,
    async freshRoot() {
      const root = join(mountPoint, `root-${++roots}`);
      await mkdir(root);
      return root;
    },
    async subvolumesUnder(root) {
      const prefix = relative(mountPoint, root);
      const out = await run('btrfs', ['subvolume', 'list', mountPoint]);
      return out
        .split('\n')
        .map((line) => /\bpath (.*)$/.exec(line)?.[1])
        .filter((path): path is string => path?.startsWith(`${prefix}/`) === true)
        .map((path) => path.slice(prefix.length + 1));
    },
    async quotasEnabled() {
      return run('btrfs', ['qgroup', 'show', mountPoint]).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ToolFailed) return false;
          throw error;
        },
      );
    },
    async qgroupsInconsistent() {
      return (await qgroupFlag(mountPoint)) === '1';
    },
    async staleQgroups() {
      // Deletes do not wait for their transaction commit, and the cleaner only sees a deleted
      // subvolume once it is committed: commit first, or the wait lasts up to the commit interval.
      await run('btrfs', ['filesystem', 'sync', mountPoint]);
      await run('btrfs', ['subvolume', 'sync', mountPoint]);
      const ids = new Set(['0/5']);
      for (const line of (await run('btrfs', ['subvolume', 'list', mountPoint])).split('\n')) {
        const id = /^ID (\d+) /.exec(line)?.[1];
        if (id) ids.add(`0/${id}`);
      }
      const qgroups = (await run('btrfs', ['qgroup', 'show', '--raw', mountPoint]))
        .split('\n')
        .map((line) => line.trim().split(/\s+/)[0] ?? '');
      return qgroups.filter((q) => /^0\/\d+$/.test(q) && !ids.has(q));
    },
    async usedBytes() {
      await run('btrfs', ['filesystem', 'sync', mountPoint]);
      await run('btrfs', ['subvolume', 'sync', mountPoint]);
      const out = await run('btrfs', ['filesystem', 'usage', '-b', mountPoint]);
      const used = /^\s*Used:\s+(\d+)/m.exec(out)?.[1];
      if (used === undefined) throw new Error(`no Used line in btrfs filesystem usage output:\n${out}`);
      return Number(used);
    },
    destroy,
  };
}

/**
 * Removes everything a backend lists, the way `reconcile()` removes leftovers.
 *
 * @param backend - the backend
 */
export async function removeAll(backend: Backend): Promise<void> {
  for (const entry of await backend.list()) {
    if (entry.kind === 'fork') await backend.discardFork(entry.id);
    else await backend.removeVersion(entry.id);
  }
}

/**
 * A btrfs backend on a fresh root of `fs`, for the conformance suite, whose cleanup removes
 * everything and checks that nothing is left (no names, no subvolumes).
 *
 * @param fs - the filesystem
 * @param quota - the backend's `quota` option
 */
export async function backendOn(
  fs: LoopBtrfs,
  quota: boolean,
): Promise<{ backend: BtrfsBackend; cleanup: () => Promise<void> }> {
  const backend = createBtrfsBackend({ root: await fs.freshRoot(), quota });
  const cleanup = async () => {
    await removeAll(backend);
    expect(await leftovers(backend.root)).toEqual([]);
    expect(await fs.subvolumesUnder(backend.root)).toEqual([]);
  };
  return { backend, cleanup };
}

/**
 * What is left in the backend's directories (`forks/`, `versions/`), temporary and trash names included.
 *
 * @param root - the backend root
 */
export async function leftovers(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const area of ['forks', 'versions']) {
    for (const name of await readdir(join(root, area)).catch(() => [])) found.push(`${area}/${name}`);
  }
  return found;
}

/**
 * Lists a directory synchronously (for quick assertions).
 *
 * @param path - the directory
 */
export function entriesOf(path: string): string[] {
  return readdirSync(path).sort();
}

const EDQUOT = osConstants.errno.EDQUOT;

/**
 * The filesystem's qgroup `inconsistent` flag from sysfs (`"0"` or `"1"`), or `undefined`
 * without quotas (or on kernels before 6.1, which do not show it).
 *
 * @param path - any path on the filesystem
 */
async function qgroupFlag(path: string): Promise<string | undefined> {
  const fsid = (await run('findmnt', ['-n', '-o', 'UUID', '-T', path])).trim();
  return readFile(`/sys/fs/btrfs/${fsid}/qgroups/inconsistent`, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

/**
 * Makes the filesystem holding `path` quiet and its qgroup numbers exact, so that a limit holds
 * for the next write: waits for the cleaner to finish dropping deleted subvolumes, commits the
 * transaction, and rescans when btrfs has marked its qgroup numbers inconsistent (or a rescan
 * is running). While they are inconsistent, btrfs skips qgroup accounting
 * (`BTRFS_QGROUP_RUNTIME_FLAG_NO_ACCOUNTING`): reservations are freed at each transaction
 * commit without the written bytes being counted, so a write goes past any limit (40 MiB under
 * a 32 MiB limit on this machine's 6.18 kernel, until `btrfs quota rescan -w`). The kernel
 * marks them inconsistent when a commit's accounting fails (a backref walk that cannot
 * allocate under memory pressure from other work), when a level-0 qgroup is removed while it
 * still counts bytes, when a snapshot goes into a qgroup its source is not in (how the test
 * below makes it happen), and in a few more cases; a rescan clears it. Says so on stderr when
 * it had to rescan.
 *
 * @param path - any path on the filesystem
 */
export async function settleQgroups(path: string): Promise<void> {
  // The cleaner sees a deleted subvolume only once its delete is committed: commit, wait for
  // the cleaner, then commit what it did.
  await run('btrfs', ['filesystem', 'sync', path]);
  await run('btrfs', ['subvolume', 'sync', path]);
  await run('btrfs', ['filesystem', 'sync', path]);
  const inconsistent = (await qgroupFlag(path)) === '1';
  const rescanning = /running/.test(await run('btrfs', ['quota', 'rescan', '-s', path]).catch(() => ''));
  if (inconsistent || rescanning) {
    console.warn(
      `btrfs qgroups of ${path} were ${rescanning ? 'being rescanned' : 'inconsistent'} (limits do not hold then): rescanning before writing`,
    );
    await run('btrfs', ['quota', 'rescan', '-w', path]);
  }
}

/**
 * {@link nodeFileAccess} whose `fill` writes once qgroup limits hold ({@link settleQgroups}) and
 * reports a qgroup refusal as `code: 'EDQUOT'`. Node 20's libuv (1.46) has no name for errno
 * 122, so the write fails with code "Unknown system error -122" and errno -122; newer Node
 * versions name it `EDQUOT` themselves.
 */
export const btrfsFileAccess: FileAccess = {
  ...nodeFileAccess,
  async fill(mountPath, path, bytes) {
    await settleQgroups(mountPath);
    await nodeFileAccess.fill(mountPath, path, bytes).catch((error: NodeJS.ErrnoException) => {
      if (error?.errno === -EDQUOT && error.code !== 'EDQUOT') error.code = 'EDQUOT';
      throw error;
    });
  },
};
