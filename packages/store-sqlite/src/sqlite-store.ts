import { openSqliteStore } from './internal/open-store.js';
import type { SqliteStoreOptions } from './options.js';
import type { SqliteStore } from './types.js';

/**
 * Creates a store that keeps the model's state in an SQLite database (better-sqlite3, WAL
 * mode), shared by every process on one host: the default store of the CLI (`ROOT/state.db`).
 *
 * - Every write is one `BEGIN IMMEDIATE` transaction on one volume's rows: the slice function
 *   runs inside it, so no other writer can change the slice in between; a function that throws
 *   rolls back and its error reaches the caller as thrown. Other processes wait for the
 *   database up to `busyTimeoutMs`, then get `STORE_FAILED`.
 * - Writes are committed with `synchronous=NORMAL`; `{ durable: true }` transactions (a
 *   commit's outcome, a removal's intent) with `synchronous=FULL`, fsynced before they return.
 * - The schema is migrated at open; a database written by a newer cachevol is refused.
 * - `importFrom` imports a first-release `state.json` once, into an empty database, and renames
 *   it to `<file>.imported`.
 * - Every failure of the database (busy, corrupt, full, read-only, I/O) is `STORE_FAILED`
 *   naming the file and what to do; a corrupt database is never overwritten.
 *
 * better-sqlite3 is synchronous: a transaction blocks this process's event loop while it runs
 * (microseconds) and while it waits for another process's write lock.
 *
 * @param options - `path`, `busyTimeoutMs` and `importFrom` (see {@link SqliteStoreOptions})
 * @throws `INVALID_ARGUMENT` for bad options; `STORE_FAILED` when the database cannot be opened,
 *   migrated or imported into
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({
 *   backend: createDirBackend({ root: '/var/lib/cachevol/volumes' }),
 *   store: createSqliteStore({
 *     path: '/var/lib/cachevol/state.db',
 *     importFrom: '/var/lib/cachevol/state.json',
 *   }),
 * })
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return openSqliteStore(options);
}
