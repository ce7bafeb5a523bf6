/**
 * `@cachevol/backend-dir`: plain directories under a root you choose; forks are `cp -a` copies
 * (device files, FIFOs, sockets, extended attributes, hard links, holes and owners kept) that
 * reflink where the filesystem supports it (btrfs, XFS, APFS). The embedded default: needs no
 * root privileges and nothing beyond GNU coreutils' `cp`.
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
