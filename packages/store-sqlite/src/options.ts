import { z } from 'zod';

/** Default for {@link SqliteStoreOptions} `busyTimeoutMs`: 10 seconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** The schema of {@link SqliteStoreOptions}: the single source of truth for the options. */
export const sqliteStoreOptionsSchema = z
  .object({
    path: z
      .string()
      .min(1)
      .describe('the database file, e.g. ROOT/state.db; its directory is created if missing'),
    busyTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_BUSY_TIMEOUT_MS)
      .describe('how long a transaction waits for another process to release the database'),
    importFrom: z
      .string()
      .min(1)
      .optional()
      .describe(
        "a first-release state.json to import once into an empty database, then rename to '.imported'",
      ),
  })
  .strict();

/**
 * Options for `createSqliteStore`.
 *
 * - `path` (required): the database file, e.g. `/var/lib/cachevol/state.db`. Beside it live
 *   SQLite's `<path>-wal` and `<path>-shm`. Relative paths resolve against the current
 *   directory; the directory is created if missing.
 * - `busyTimeoutMs` (default 10 000): how long a transaction waits while another process holds
 *   the database before failing with `STORE_FAILED`.
 * - `importFrom` (optional): a `state.json` written by `@cachevol/store-file`, imported once
 *   into an empty database and then renamed to `<file>.imported`.
 */
export type SqliteStoreOptions = z.input<typeof sqliteStoreOptionsSchema>;
