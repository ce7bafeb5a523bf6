import { z } from 'zod';

/** Default for {@link FileStoreOptions} `lockTimeoutMs`: 30 seconds. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** The schema of {@link FileStoreOptions}: the single source of truth for the options. */
export const fileStoreOptionsSchema = z
  .object({
    path: z.string().min(1).describe('the state file (JSON); its directory is created if missing'),
    lockTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_LOCK_TIMEOUT_MS)
      .describe('how long update() waits for another process to release the lock'),
  })
  .strict();

/**
 * Options for `createFileStore`.
 *
 * - `path` (required): the state file, e.g. `/var/lib/cachevol/state.json`. Beside it live
 *   `<path>.lock` (the lock), `<path>.bak` (the previous good state) and short-lived
 *   `<path>.<pid>.<random>.tmp` files. Relative paths resolve against the current directory.
 * - `lockTimeoutMs` (default 30 000): how long `update()` waits for the lock before failing
 *   with `STORE_FAILED`.
 */
export type FileStoreOptions = z.input<typeof fileStoreOptionsSchema>;
