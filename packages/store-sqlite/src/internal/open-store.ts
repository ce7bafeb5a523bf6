import { resolve } from 'node:path';
import {
  CacheVolumeError,
  checkSliceUpdate,
  DEFAULT_PAGE_SIZE,
  type DueQuery,
  decodeCursor,
  encodeCursor,
  isDue,
  parseOptions,
  type SliceFunction,
  type TransactOptions,
  type VolumeKey,
} from '@cachevol/core';
import type { Database } from 'better-sqlite3';
import { type SqliteStoreOptions, sqliteStoreOptionsSchema } from '../options.js';
import type { SqliteStore } from '../types.js';
import { openConnection } from './connection.js';
import { type ErrorContext, storeFailure } from './errors.js';
import { importLegacyState } from './legacy-import.js';
import { migrate } from './schema.js';
import { openTables } from './tables.js';

/** Hooks for tests, so they can look inside the store's own transactions. */
export interface StoreSeams {
  /** Called first inside every transaction on a slice (`transact`, `claimDue`), with the connection. */
  inWriteTransaction?: (db: Database) => void;
}

/** Carries an error the slice function threw past the store's error translation, unchanged. */
class FromSliceFunction {
  constructor(readonly error: unknown) {}
}

/** What a claim returns for a volume that was no longer due once its transaction began. */
const NOT_DUE: unique symbol = Symbol('not due');

const label = (key: VolumeKey) => `${key.scope}/${key.name}`;

/**
 * Opens the store that {@link createSqliteStore} returns (see there), with test seams.
 *
 * @param options - the store's options
 * @param seams - test hooks; none in production
 */
export function openSqliteStore(options: SqliteStoreOptions, seams: StoreSeams = {}): SqliteStore {
  const opts = parseOptions(sqliteStoreOptionsSchema, options, 'createSqliteStore options');
  const path = resolve(opts.path);
  const ctx: ErrorContext = { path, busyTimeoutMs: opts.busyTimeoutMs };
  const conn = openConnection(ctx);
  let tables: ReturnType<typeof openTables>;
  try {
    migrate(conn.db, path);
    tables = openTables(conn.db, path);
    if (opts.importFrom) importLegacyState(conn, tables, resolve(opts.importFrom), path);
  } catch (error) {
    conn.db.close();
    throw storeFailure(error, ctx, 'opening the database');
  }
  let closed = false;

  /** Runs the store's own work, turning every failure into `STORE_FAILED` (see errors.ts). */
  const guard = <T>(doing: string, work: () => T): T => {
    if (closed) {
      throw new CacheVolumeError('STORE_FAILED', `The SQLite store ${path} was closed; open a new one.`, {
        details: { path },
      });
    }
    try {
      return work();
    } catch (error) {
      if (error instanceof FromSliceFunction) throw error.error;
      throw storeFailure(error, ctx, doing);
    }
  };

  /** One transaction on one volume; with `due`, a volume no longer due is passed over. */
  const transactOn = <T>(
    key: VolumeKey,
    fn: SliceFunction<T>,
    wanted: readonly string[] | undefined,
    durable: boolean,
    due?: DueQuery,
  ): T | typeof NOT_DUE =>
    conn.write(durable, () => {
      seams.inWriteTransaction?.(conn.db);
      const loaded = tables.load(key, wanted);
      if (due && !(loaded.schedule && isDue(loaded.schedule, due.now, due.force))) return NOT_DUE;
      let out: ReturnType<SliceFunction<T>>;
      try {
        out = fn(loaded.slice);
      } catch (error) {
        throw new FromSliceFunction(error);
      }
      checkSliceUpdate(out, key);
      tables.write(key, loaded, out.slice);
      return out.result;
    });

  return {
    name: 'sqlite',
    path,

    async read(key) {
      return guard(`reading volume ${label(key)}`, () => conn.read(() => tables.load(key).slice));
    },

    async transact<T>(key: VolumeKey, fn: SliceFunction<T>, options: TransactOptions = {}): Promise<T> {
      return guard(
        `writing volume ${label(key)}`,
        () => transactOn(key, fn, options.forks, options.durable === true) as T,
      );
    },

    async findFork(forkId) {
      return guard(`finding fork ${forkId}`, () => tables.findFork(forkId));
    },

    async listVolumes(options = {}) {
      return guard('listing volumes', () => {
        const limit = options.limit ?? DEFAULT_PAGE_SIZE;
        if (!Number.isInteger(limit) || limit < 1) {
          throw new CacheVolumeError(
            'INVALID_ARGUMENT',
            `listVolumes limit must be a positive integer, got ${String(limit)}.`,
          );
        }
        const after = options.after ? decodeCursor(options.after) : null;
        const page = conn.read(() => tables.page(after, limit));
        const last = page.slices[page.slices.length - 1];
        return { slices: page.slices, next: page.more && last ? encodeCursor(last) : null };
      });
    },

    async claimDue<T>(query: DueQuery, fn: SliceFunction<T>): Promise<T[]> {
      const limit = Math.max(0, Math.floor(query.limit));
      const keys = guard('finding due volumes', () => tables.due(query.now, query.force === true, limit));
      // SQLite has no row locks: one writer at a time holds the whole database, so PostgreSQL's
      // "skip locked" does not apply. A volume another process is writing is waited for (up to
      // busyTimeoutMs) like any transaction, and one that another claimer took in the meantime
      // is no longer due when its transaction loads it, so it is passed over.
      const results: T[] = [];
      for (const key of keys) {
        const result = guard(`claiming volume ${label(key)}`, () => transactOn(key, fn, [], false, query));
        if (result !== NOT_DUE) results.push(result);
      }
      return results;
    },

    async pruneForks(endedBefore) {
      return guard('pruning ended forks', () => conn.write(false, () => tables.prune(endedBefore)));
    },

    async close() {
      if (closed) return;
      closed = true;
      conn.db.close();
    },
  };
}
