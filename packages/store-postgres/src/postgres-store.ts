import {
  CacheVolumeError,
  DEFAULT_PAGE_SIZE,
  type DueQuery,
  decodeCursor,
  encodeCursor,
  type ForkRecord,
  type ListVolumesOptions,
  parseOptions,
  type SliceFunction,
  type Store,
  type TransactOptions,
  type VolumeKey,
  type VolumePage,
  volumeKeyString,
} from '@cachevol/core';
import { type ClientConfig, Pool, type QueryResult } from 'pg';
import { describeTarget, type FailureContext, storeError, targetOf } from './internal/errors.js';
import { migratePool } from './internal/migrations.js';
import { sliceOfAggregate } from './internal/rows.js';
import { claimDueSlices, transactSlice } from './internal/slice-transactions.js';
import { statementsFor } from './internal/sql.js';
import type { Statement, Timeouts } from './internal/transaction.js';
import { volumeQueue } from './internal/volume-queue.js';
import { DEFAULT_POOL_MAX, type PostgresStoreOptions, postgresStoreOptionsSchema } from './options.js';

/** A {@link Store} in PostgreSQL; see {@link createPostgresStore}. */
export interface PostgresStore extends Store {
  /** Always `postgres`. */
  readonly name: 'postgres';
  /** The schema holding the store's tables. */
  readonly schema: string;
}

/**
 * Creates a store that keeps the model's state in PostgreSQL, for a fleet of hosts sharing one
 * database (for one host, `@cachevol/store-sqlite` needs no server).
 *
 * - Tables live in `schema` (default `cachevol`), made and upgraded by versioned migrations at
 *   first use, under an advisory lock so hosts starting together do not collide. A schema
 *   migrated by a newer release is refused with `STORE_FAILED`.
 * - `transact` is one READ COMMITTED transaction: it locks the volume's row
 *   (`SELECT … FOR UPDATE`, creating the row first when the volume is new), loads its live forks
 *   and the ended ones asked for, runs the function, writes only what changed and commits. Work on
 *   different volumes never waits on one lock. It is retried whole on a serialization failure or
 *   deadlock. `durable: true` commits synchronously (the COMMIT returns once the WAL is flushed);
 *   other transactions commit with `synchronous_commit = off`.
 * - `claimDue` locks due volumes with `FOR UPDATE SKIP LOCKED`: concurrent reconcilers on any
 *   host never wait on or share a volume.
 * - A client that stalls inside a transaction for longer than `idleInTransactionTimeoutMs` has
 *   its session ended by the server, which rolls back: its write fails, and it never
 *   overwrites what others wrote meanwhile. Waiting longer than `lockTimeoutMs` for a volume
 *   fails with `STORE_FAILED` too.
 * - Every failure of the database is `STORE_FAILED`, naming the server, database and user (never
 *   the password) and what to check; an error thrown by a transaction function reaches the
 *   caller unchanged.
 *
 * @param options - `connectionString` or `pool`, `schema` and timeouts (see {@link PostgresStoreOptions})
 * @throws `INVALID_ARGUMENT` for bad options (nothing connects before the first call)
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({
 *   backend: createBtrfsBackend({ root: '/var/lib/cachevol' }),
 *   store: createPostgresStore({ connectionString: 'postgres://cachevol@db.internal/cachevol' }),
 * })
 * ```
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const opts = parseOptions(postgresStoreOptionsSchema, options, 'createPostgresStore options');
  const timeouts: Timeouts = {
    lockTimeoutMs: opts.lockTimeoutMs,
    idleInTransactionTimeoutMs: opts.idleInTransactionTimeoutMs,
    statementTimeoutMs: opts.statementTimeoutMs,
  };
  const owned = opts.pool === undefined;
  const config: ClientConfig & { max?: number; allowExitOnIdle?: boolean } = owned
    ? {
        connectionString: opts.connectionString,
        max: opts.max ?? DEFAULT_POOL_MAX,
        connectionTimeoutMillis: opts.connectTimeoutMs,
        statement_timeout: opts.statementTimeoutMs,
        application_name: 'cachevol',
        allowExitOnIdle: true,
        // Send a transaction's statements together (pg 8.23 and later; older releases send them one by one).
        pipeline: true,
      }
    : (opts.pool as Pool).options;
  let target: string;
  try {
    target = describeTarget(targetOf(config));
  } catch (error) {
    // No cause: pg's parse error carries the connection string, password and all.
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid createPostgresStore options: connectionString: cannot be parsed (${(error as Error).name}). ` +
        'Write it as postgres://user:password@host:port/database, or postgres://user@/database?host=/socket/dir.',
    );
  }
  const pool = owned ? new Pool(config) : (opts.pool as Pool);
  // An idle pooled connection that the server closes is dropped by the pool; without a
  // listener its error would crash the process.
  if (owned) pool.on('error', () => undefined);
  const statements = statementsFor(opts.schema);
  const queue = volumeQueue();
  const context = { pool, timeouts, target, statements };
  const failure = (operation: string, key?: VolumeKey): FailureContext => ({
    ...timeouts,
    target,
    operation,
    key,
  });
  let closed = false;
  let ready: Promise<void> | null = null;

  const ensureReady = (): Promise<void> => {
    if (closed)
      return Promise.reject(
        new CacheVolumeError(
          'STORE_FAILED',
          `The PostgreSQL store (schema "${opts.schema}") was closed; create a new one with createPostgresStore().`,
        ),
      );
    ready ??= migratePool(pool, opts.schema).catch((error: unknown) => {
      ready = null;
      throw storeError(error, failure('migrating the schema'));
    });
    return ready;
  };

  const query = async <R extends Record<string, unknown>>(
    operation: string,
    statement: Statement,
  ): Promise<QueryResult<R>> => {
    await ensureReady();
    try {
      return await pool.query<R>(statement);
    } catch (error) {
      throw storeError(error, failure(operation));
    }
  };

  return {
    name: 'postgres',
    schema: opts.schema,

    async read(key) {
      const { rows } = await query<{ record: string | null; forks: string | null }>('read', {
        ...statements.read,
        values: [key.scope, key.name],
      });
      return sliceOfAggregate(key, rows[0]?.record ?? null, rows[0]?.forks ?? null);
    },

    async transact<T>(key: VolumeKey, fn: SliceFunction<T>, options: TransactOptions = {}): Promise<T> {
      await ensureReady();
      return queue(volumeKeyString(key), async () => {
        await ensureReady(); // the store may have been closed while this call queued
        return transactSlice(context, key, fn, options);
      });
    },

    async findFork(forkId) {
      const { rows } = await query<{ record: string }>('findFork', {
        ...statements.findFork,
        values: [forkId],
      });
      return rows[0] ? (JSON.parse(rows[0].record) as ForkRecord) : null;
    },

    async listVolumes(options: ListVolumesOptions = {}): Promise<VolumePage> {
      const after = options.after ? decodeCursor(options.after) : null;
      const limit = Math.max(0, Math.floor(options.limit ?? DEFAULT_PAGE_SIZE));
      const { rows } = await query<{ scope: string; name: string; record: string; forks: string | null }>(
        'listVolumes',
        after
          ? { ...statements.listAfter, values: [limit + 1, after.scope, after.name] }
          : { ...statements.listFirst, values: [limit + 1] },
      );
      const slices = rows.slice(0, limit).map((row) => sliceOfAggregate(row, row.record, row.forks));
      const last = slices[slices.length - 1];
      return { slices, next: rows.length > limit && last ? encodeCursor(last) : null };
    },

    async claimDue<T>(due: DueQuery, fn: SliceFunction<T>): Promise<T[]> {
      await ensureReady();
      return claimDueSlices(context, due, fn);
    },

    async pruneForks(endedBefore) {
      // ended_at is rounded up, the cut-off too: nothing is pruned early.
      const cutoff = Number.isFinite(endedBefore)
        ? Math.ceil(endedBefore)
        : endedBefore > 0
          ? Number.MAX_SAFE_INTEGER
          : Number.MIN_SAFE_INTEGER;
      const result = await query('pruneForks', { ...statements.pruneForks, values: [cutoff] });
      return result.rowCount ?? 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (owned) await pool.end().catch(() => undefined);
    },
  };
}
