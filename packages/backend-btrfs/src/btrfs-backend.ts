import { statfsSync, statSync } from 'node:fs';
import { CacheVolumeError } from '@cachevol/core';
import { btrfsBackendOn } from './internal/backend.js';
import { nodeHost } from './internal/host.js';
import { type BtrfsBackendOptions, parseBtrfsBackendOptions } from './options.js';
import type { BtrfsBackend } from './types.js';

/** `f_type` of a btrfs filesystem in `statfs(2)`. */
const BTRFS_SUPER_MAGIC = 0x9123683e;

/**
 * Checks, without changing anything, that `root` is an existing directory on btrfs.
 *
 * @param root - an absolute path
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` when it is missing or not a directory,
 *   `BACKEND_UNAVAILABLE` when it is not on btrfs
 */
function checkRoot(root: string): void {
  const stats = statSync(root, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) {
    const problem = stats ? 'is not a directory' : 'does not exist; create it on a btrfs filesystem first';
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid btrfs backend options: root: "${root}" ${problem}.`,
      {
        details: { root },
      },
    );
  }
  const type = statfsSync(root).type;
  if (type !== BTRFS_SUPER_MAGIC) {
    throw new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `"${root}" is not on a btrfs filesystem (statfs type 0x${type.toString(16)}): point root at a directory on btrfs (see docs/backends/btrfs.md), or use another backend.`,
      { details: { root, filesystemType: type } },
    );
  }
}

/**
 * Creates a backend that keeps forks and versions as btrfs subvolumes under `root`: versions
 * are read-only snapshots, forks writable snapshots (or new, empty subvolumes), so fork and
 * commit take constant time and copy no file data. With `quota` (the default) each fork's
 * capacity is a qgroup limit, and writes past it fail with `EDQUOT`.
 *
 * Checks the options and that `root` is an existing directory on btrfs right away, without
 * changing anything; the first method call (or {@link BtrfsBackend.ready}) checks for the
 * `btrfs` tool, creates `forks/` and `versions/` under `root` and turns quotas on when needed.
 * Needs root privileges (subvolume listing and quotas need `CAP_SYS_ADMIN`). See
 * docs/backends/btrfs.md for host set-up, limits and costs.
 *
 * @param options - root, quota, btrfs program
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for bad options or a missing root,
 *   `BACKEND_UNAVAILABLE` when root is not on btrfs
 *
 * @example
 * ```ts
 * const backend = createBtrfsBackend({ root: '/var/lib/cachevol' })
 * const volumes = new CacheVolumes({ backend, store })
 * ```
 */
export function createBtrfsBackend(options: BtrfsBackendOptions): BtrfsBackend {
  const settings = parseBtrfsBackendOptions(options);
  checkRoot(settings.root);
  return btrfsBackendOn(settings, nodeHost(settings.btrfs));
}
