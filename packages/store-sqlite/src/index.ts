/**
 * `@cachevol/store-sqlite`: the model's state in an SQLite database (WAL mode), one
 * transaction per volume, shared by every cachevol process on one host.
 *
 * @packageDocumentation
 */
export { DEFAULT_BUSY_TIMEOUT_MS, type SqliteStoreOptions, sqliteStoreOptionsSchema } from './options.js';
export { createSqliteStore } from './sqlite-store.js';
export type { SqliteStore } from './types.js';
