/**
 * `@cachevol/backend-btrfs`: cachevol forks and versions as btrfs subvolumes and snapshots,
 * with fork capacity enforced by qgroup limits.
 *
 * @packageDocumentation
 */
export { createBtrfsBackend } from './btrfs-backend.js';
export { type BtrfsBackendOptions, btrfsBackendOptionsSchema } from './options.js';
export type { BtrfsBackend } from './types.js';
