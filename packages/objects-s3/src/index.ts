/**
 * `@cachevol/objects-s3`: an S3-compatible object store for cachevol, the durable tier between
 * hosts where committed versions are uploaded and restored from.
 *
 * @packageDocumentation
 */

export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE_BYTES,
  type ResolvedS3ObjectStoreOptions,
  type S3ObjectStoreOptions,
  type S3Progress,
  s3ObjectStoreOptionsSchema,
} from './options.js';
export { createS3ObjectStore, type S3ObjectStore } from './s3-object-store.js';
