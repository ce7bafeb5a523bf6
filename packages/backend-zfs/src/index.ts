/**
 * `@cachevol/backend-zfs`: cache volumes as ZFS datasets. A version is a filesystem with one
 * snapshot, a fork is a clone of it with a `refquota`; fork and commit take constant time.
 * Works with OpenZFS 2.x and zfs-fuse.
 *
 * @packageDocumentation
 */
export { type ZfsBackendOptions, type ZfsSettings, zfsBackendOptionsSchema } from './options.js';
export type { ZfsBackend } from './types.js';
export { createZfsBackend } from './zfs-backend.js';
