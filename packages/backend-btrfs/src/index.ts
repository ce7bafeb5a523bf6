/**
 * `@cachevol/backend-btrfs`: cachevol forks and versions as btrfs subvolumes and snapshots,
 * with fork capacity enforced by qgroup limits.
 *
 * @packageDocumentation
 */
export { type BtrfsBackend, createBtrfsBackend } from './btrfs-backend.js';
export { type BtrfsBackendOptions, btrfsBackendOptionsSchema } from './options.js';
