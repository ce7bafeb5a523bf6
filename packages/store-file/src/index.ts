/**
 * `@cachevol/store-file`: the model's state as one JSON file, with atomic writes and
 * cross-process locking, for every cachevol process on one host.
 *
 * @packageDocumentation
 */
export { createFileStore, type FileStore } from './file-store.js';
export { DEFAULT_LOCK_TIMEOUT_MS, type FileStoreOptions, fileStoreOptionsSchema } from './options.js';
