/**
 * `@cachevol/backend-dir`: plain directories under a root you choose; forks are reflink copies
 * where the filesystem supports them (btrfs, XFS, APFS) and full copies elsewhere. The embedded
 * default: needs no root privileges and no external tools.
 *
 * @packageDocumentation
 */
export { createDirBackend, type DirBackend } from './dir-backend.js';
export {
  type DirBackendOptions,
  dirBackendOptionsSchema,
  REFLINK_MODES,
  type ReflinkMode,
} from './options.js';
