import { createZfsBackendWith } from './internal/operations.js';
import { processRunner } from './internal/runner.js';
import { parseZfsBackendOptions, type ZfsBackendOptions } from './options.js';
import type { ZfsBackend } from './types.js';

/**
 * Creates a backend that keeps versions and forks as ZFS datasets under an existing parent
 * dataset: a version is a filesystem with one snapshot, a fork is a clone of that snapshot
 * with a `refquota`, and fork and commit are constant-time (snapshot, clone, rename; no data
 * is copied). Works with OpenZFS 2.x and zfs-fuse.
 *
 * Nothing is run until the first call; then a missing `zfs` program or a stopped ZFS service
 * is `BACKEND_UNAVAILABLE`, and so is a parent dataset that does not exist (nothing is created
 * then).
 *
 * @param options - the parent dataset, where forks are mounted, and the `zfs` program
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` naming the bad option
 *
 * @example
 * ```ts
 * const backend = createZfsBackend({ dataset: 'tank/cachevol' })
 * const volumes = new CacheVolumes({ backend, store: createMemoryStore() })
 * const fork = await volumes.attach('deps')
 * // fork.mountPath is /tank/cachevol/forks/<fork id> (with tank's default mountpoint)
 * ```
 */
export function createZfsBackend(options: ZfsBackendOptions): ZfsBackend {
  const settings = parseZfsBackendOptions(options);
  return createZfsBackendWith(settings, processRunner(settings.zfsPath));
}
