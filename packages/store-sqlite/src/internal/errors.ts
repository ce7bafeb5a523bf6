import { dirname } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import Database from 'better-sqlite3';

/** What an error message needs to know about the store. */
export interface ErrorContext {
  /** The database file. */
  path: string;
  /** The busy timeout the store runs with. */
  busyTimeoutMs: number;
}

/** The primary result code of an SQLite error: `SQLITE_BUSY` for `SQLITE_BUSY_SNAPSHOT`. */
function primaryCode(code: string): string {
  const match = /^SQLITE_[A-Z]+/.exec(code);
  return match ? match[0] : code;
}

/** What to tell the user for each primary SQLite result code that has a known cause. */
function hint(code: string, ctx: ErrorContext): string | null {
  const { path } = ctx;
  switch (code) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return `another process held the database longer than busyTimeoutMs (${ctx.busyTimeoutMs} ms). Retry; if it keeps happening, look for a stuck process that has ${path} open (\`fuser ${path}\`) and stop it, or raise busyTimeoutMs`;
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return `the file is corrupt or is not an SQLite database. cachevol will not overwrite it. Stop every cachevol process on this host, then restore ${path} from a backup (together with ${path}-wal if the backup has one), or move ${path}, ${path}-wal and ${path}-shm aside to start from an empty state (reconcile then removes the versions nothing records)`;
    case 'SQLITE_FULL':
      return `the disk is full. Free space on the filesystem holding ${dirname(path)}, then retry`;
    case 'SQLITE_IOERR':
      return `the operating system reported an I/O error. Check the disk holding ${dirname(path)} (\`dmesg\`) and that ${path}, ${path}-wal and ${path}-shm are regular files on a local filesystem`;
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return `the database cannot be written. Check that this process may write ${path}, ${path}-wal, ${path}-shm and the directory ${dirname(path)}, and that the filesystem is not mounted read-only`;
    case 'SQLITE_CANTOPEN':
      return `the file cannot be opened. Check that ${dirname(path)} exists and that this process may read and write it`;
    default:
      return null;
  }
}

/**
 * Turns an error raised by the store's own work into a `STORE_FAILED` error that names the
 * database file and says what to do. Errors that already are {@link CacheVolumeError}s pass
 * through unchanged; no raw `SqliteError` ever reaches a caller.
 *
 * @param error - what was caught
 * @param ctx - the store's path and busy timeout
 * @param doing - what the store was doing, e.g. `writing volume pipe/deps`
 */
export function storeFailure(error: unknown, ctx: ErrorContext, doing: string): CacheVolumeError {
  if (error instanceof CacheVolumeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Database.SqliteError) {
    const code = primaryCode(error.code);
    const what = hint(code, ctx);
    return new CacheVolumeError(
      'STORE_FAILED',
      `SQLite store ${ctx.path}: ${doing} failed with ${error.code} (${message})${what ? `: ${what}` : ''}.`,
      { cause: error, details: { path: ctx.path, sqliteCode: error.code } },
    );
  }
  return new CacheVolumeError('STORE_FAILED', `SQLite store ${ctx.path}: ${doing} failed: ${message}.`, {
    cause: error,
    details: { path: ctx.path },
  });
}
