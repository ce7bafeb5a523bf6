import { accessSync, constants, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import type { Backend } from '@cachevol/core';
import { type FileAccess, nodeFileAccess } from '@cachevol/core/testing';
import { execa } from 'execa';
import { describe } from 'vitest';

const MIB = 1 << 20;

function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why real btrfs tests cannot run here, or `undefined` when they can. */
export const btrfsUnavailable: string | undefined = (() => {
  if (process.platform !== 'linux') return 'real btrfs tests need Linux';
  if (process.getuid?.() !== 0) return 'real btrfs tests need root (losetup, mount, quotas)';
  for (const tool of ['btrfs', 'mkfs.btrfs'])
    if (!onPath(tool)) return `${tool} not found: install btrfs-progs`;
  for (const tool of ['losetup', 'mount', 'umount'])
    if (!onPath(tool)) return `${tool} not found: install mount (util-linux)`;
  return undefined;
})();

/**
 * `describe` for suites that need a real btrfs: under `CI=true` a missing tool fails the file
 * with the reason; elsewhere the suite is skipped with a one-line reason in its title.
 *
 * @param title - the suite title
 * @param body - the suite
 * @param unavailable - why the suite cannot run; computed for this machine unless given
 */
export function describeWithBtrfs(title: string, body: () => void, unavailable = btrfsUnavailable): void {
  if (unavailable && process.env.CI === 'true') {
    throw new Error(`${title}: cannot run under CI=true: ${unavailable}`);
  }
  describe.skipIf(unavailable !== undefined)(
    unavailable ? `${title} (skipped: ${unavailable})` : title,
    body,
  );
}

/** Runs a tool with an argument array and returns its stdout. */
export async function run(command: string, args: readonly string[]): Promise<string> {
  return (await execa(command, args, { env: { LC_ALL: 'C' } })).stdout;
}

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
 * Makes and mounts a btrfs filesystem on a sparse loop file.
 *
 * @param sizeBytes - the loop file's size
 */
export async function createLoopBtrfs(sizeBytes = 1024 * MIB): Promise<LoopBtrfs> {
  const dir = await mkdtemp(join(tmpdir(), 'cachevol-test-btrfs-'));
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'mnt');
  let device: string | undefined;
  let mounted = false;
  let roots = 0;

  const destroy = async (): Promise<void> => {
    if (mounted) {
      for (let attempt = 0; ; attempt++) {
        try {
          await run('umount', [mountPoint]);
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      mounted = false;
    }
    if (device) {
      await run('losetup', ['-d', device]);
      device = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const handle = await open(image, 'w');
    await handle.truncate(sizeBytes);
    await handle.close();
    await run('mkfs.btrfs', ['-q', image]);
    device = (await run('losetup', ['--find', '--show', image])).trim();
    await mkdir(mountPoint);
    // nobarrier: transaction commits do not flush the loop file to disk. The tests simulate
    // process crashes, not power loss, and flushes would dominate their run time.
    await run('mount', ['-t', 'btrfs', '-o', 'nobarrier', device, mountPoint]);
    mounted = true;
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }

  return {
    mountPoint,
    device: device as string,
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
      return execa('btrfs', ['qgroup', 'show', mountPoint], { reject: false }).then((r) => !r.failed);
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
 * {@link nodeFileAccess} whose `fill` reports a qgroup refusal as `code: 'EDQUOT'`. Node 20's
 * libuv (1.46) has no name for errno 122, so the write fails with code "Unknown system error
 * -122" and errno -122; newer Node versions name it `EDQUOT` themselves.
 */
export const btrfsFileAccess: FileAccess = {
  ...nodeFileAccess,
  async fill(mountPath, path, bytes) {
    await nodeFileAccess.fill(mountPath, path, bytes).catch((error: NodeJS.ErrnoException) => {
      if (error?.errno === -EDQUOT && error.code !== 'EDQUOT') error.code = 'EDQUOT';
      throw error;
    });
  },
};
