import type { Pool } from 'pg';
import { z } from 'zod';

/** Default for {@link PostgresStoreOptions} `schema`. */
export const DEFAULT_SCHEMA = 'cachevol';
/** Default for {@link PostgresStoreOptions} `lockTimeoutMs`: 15 seconds. */
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
/** Default for {@link PostgresStoreOptions} `idleInTransactionTimeoutMs`: 5 seconds. */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000;
/** Default for {@link PostgresStoreOptions} `statementTimeoutMs`: 30 seconds. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** Default for {@link PostgresStoreOptions} `connectTimeoutMs`: 10 seconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default for {@link PostgresStoreOptions} `max`: 10 connections. */
export const DEFAULT_POOL_MAX = 10;

const milliseconds = (fallback: number, what: string) =>
  z.number().int().positive().max(2_147_483_647).default(fallback).describe(what);

const isPool = (value: unknown): value is Pool =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Pool).connect === 'function' &&
  typeof (value as Pool).query === 'function';

/** The schema of {@link PostgresStoreOptions}: the single source of truth for the options. */
export const postgresStoreOptionsSchema = z
  .object({
    connectionString: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional()
      .describe('where the database is, e.g. postgres://cachevol@db.internal/cachevol'),
    pool: z
      .custom<Pool>(isPool, 'must be a pg.Pool')
      .optional()
      .describe('an existing pg.Pool to use instead of a connectionString; the store never ends it'),
    schema: z
      .string()
      .regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        'must be a lower-case SQL identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters',
      )
      .default(DEFAULT_SCHEMA)
      .describe('the PostgreSQL schema holding the tables; created by the first migration'),
    lockTimeoutMs: milliseconds(
      DEFAULT_LOCK_TIMEOUT_MS,
      "how long a transaction waits for another client's lock on a volume before failing",
    ),
    idleInTransactionTimeoutMs: milliseconds(
      DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      'how long a client may stall inside a transaction before the server ends its session',
    ),
    statementTimeoutMs: milliseconds(
      DEFAULT_STATEMENT_TIMEOUT_MS,
      'how long one SQL statement (a lock wait included) may run',
    ),
    connectTimeoutMs: milliseconds(
      DEFAULT_CONNECT_TIMEOUT_MS,
      "how long opening a connection, or waiting for a free one, may take (the store's own pool only)",
    ),
    max: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(`most connections the store's own pool opens (default ${DEFAULT_POOL_MAX})`),
  })
  .strict()
  .superRefine((options, context) => {
    if ((options.connectionString === undefined) === (options.pool === undefined))
      context.addIssue({
        code: 'custom',
        path: ['connectionString'],
        message: 'give exactly one of connectionString and pool',
      });
    if (options.pool !== undefined && options.max !== undefined)
      context.addIssue({
        code: 'custom',
        path: ['max'],
        message: 'applies only to the pool the store creates; size the pool you pass instead',
      });
  });

/**
 * Options for `createPostgresStore`.
 *
 * - `connectionString` or `pool` (exactly one): where the database is, as a
 *   `postgres://user:password@host:port/database` URL (a unix socket directory goes in `host`:
 *   `postgres://ci@/cachevol?host=/run/postgresql`), or an existing `pg.Pool`, which the store
 *   uses and never ends.
 * - `schema` (default `cachevol`): the schema holding the store's tables, created by the first
 *   migration. Several stores can share one database under different schemas.
 * - `lockTimeoutMs` (default 15 000): how long a transaction waits for a volume that another
 *   client holds before failing with `STORE_FAILED`.
 * - `idleInTransactionTimeoutMs` (default 5 000): a client that stalls inside a transaction
 *   longer than this (a paused or overloaded host) has its session ended by the server, which
 *   rolls the transaction back and frees the volume; the stalled client's write then fails.
 * - `statementTimeoutMs` (default 30 000): the longest one SQL statement may run.
 * - `connectTimeoutMs` (default 10 000): the longest opening a connection, or waiting for a free
 *   one, may take (the store's own pool; a pool you pass has its own `connectionTimeoutMillis`).
 * - `max` (default 10): most connections the store's own pool opens (not with `pool`).
 */
export type PostgresStoreOptions = z.input<typeof postgresStoreOptionsSchema>;

/** {@link PostgresStoreOptions} after parsing, with defaults filled in. */
export type ResolvedPostgresStoreOptions = z.infer<typeof postgresStoreOptionsSchema>;
