import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import Database from 'better-sqlite3';
import { type ErrorContext, storeFailure } from './errors.js';

/** An open database and the two kinds of transaction the store runs on it. */
export interface Connection {
  /** The better-sqlite3 handle. */
  db: Database.Database;
  /**
   * Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock is taken before anything is
   * read, so no other writer can change what `work` reads before it commits (a deferred
   * transaction would fail with `SQLITE_BUSY_SNAPSHOT` instead of waiting). `durable` runs it
   * with `synchronous=FULL` (the WAL is fsynced at commit); pragmas cannot change inside a
   * transaction, so it is set before `BEGIN` and put back to `NORMAL` after. A throwing
   * `work` rolls back and its error is rethrown.
   */
  write<T>(durable: boolean, work: () => T): T;
  /** Runs `work` in a deferred (read) transaction: one consistent snapshot, no write lock. */
  read<T>(work: () => T): T;
}

/**
 * Opens (creating if missing) the database file and its directory, in WAL mode with
 * `synchronous=NORMAL` and SQLite's busy timeout, so a transaction waits up to
 * `busyTimeoutMs` for another process's write lock.
 *
 * better-sqlite3 is synchronous: every transaction runs to completion in one turn of the event
 * loop, so a connection never holds a lock across an `await`, and a wait for another process
 * blocks this process's event loop for up to `busyTimeoutMs`.
 *
 * @param ctx - the path and busy timeout
 * @throws `STORE_FAILED` naming the file and what to check
 */
export function openConnection(ctx: ErrorContext): Connection {
  try {
    mkdirSync(dirname(ctx.path), { recursive: true });
  } catch (error) {
    throw new CacheVolumeError(
      'STORE_FAILED',
      `Cannot create the directory of the SQLite database ${ctx.path}: ${(error as Error).message}. Check that its parent is writable by this process.`,
      { cause: error, details: { path: ctx.path } },
    );
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(ctx.path, { timeout: ctx.busyTimeoutMs });
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new CacheVolumeError(
        'STORE_FAILED',
        `SQLite store ${ctx.path}: the database cannot use WAL mode (it stays in "${String(mode)}" mode). Put it on a local filesystem (not NFS or SMB).`,
        { details: { path: ctx.path, journalMode: mode } },
      );
    }
    db.pragma('synchronous = NORMAL');
  } catch (error) {
    db?.close();
    throw storeFailure(error, ctx, 'opening the database');
  }
  const open = db;
  const transaction = open.transaction((work: () => unknown) => work());
  return {
    db: open,
    write<T>(durable: boolean, work: () => T): T {
      if (!durable) return transaction.immediate(work) as T;
      open.pragma('synchronous = FULL');
      try {
        return transaction.immediate(work) as T;
      } finally {
        try {
          open.pragma('synchronous = NORMAL');
        } catch {
          // Left at FULL, later writes are only slower: never hide the transaction's outcome.
        }
      }
    },
    read<T>(work: () => T): T {
      return transaction.deferred(work) as T;
    },
  };
}
