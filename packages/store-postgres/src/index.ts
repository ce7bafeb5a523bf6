/**
 * `@cachevol/store-postgres`: the model's state in PostgreSQL, one row lock per volume, for a
 * fleet of hosts sharing one database.
 *
 * @packageDocumentation
 */

export { SCHEMA_VERSION } from './internal/migrations.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_POOL_MAX,
  DEFAULT_SCHEMA,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  type PostgresStoreOptions,
  postgresStoreOptionsSchema,
  type ResolvedPostgresStoreOptions,
} from './options.js';
export { createPostgresStore, type PostgresStore } from './postgres-store.js';
