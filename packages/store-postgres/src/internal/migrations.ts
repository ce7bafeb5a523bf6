import { createHash } from 'node:crypto';
import { CacheVolumeError } from '@cachevol/core';
import type { ClientBase, Pool } from 'pg';
import { escapeIdentifier } from 'pg';
import { isConnectionLost } from './errors.js';

/** One step of the schema's history. Steps are never edited once released: add a new one. */
interface Migration {
  readonly version: number;
  readonly description: string;
  /** The statements, for the quoted schema. */
  readonly sql: (schema: string) => string;
}

/**
 * The schema's history. `volumes` holds one row per volume (its record as jsonb, null while
 * only live forks keep the row; `due_at` and `has_intent` are `sliceSchedule` of the stored
 * slice, indexed for `claimDue`); `forks` one row per fork, live or ended until pruned.
 * Scope, name and id sort by bytes (`COLLATE "C"`), as every other store pages.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'volumes and forks',
    sql: (s) => `
      CREATE TABLE ${s}.volumes (
        scope text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        record jsonb,
        due_at bigint,
        has_intent boolean NOT NULL DEFAULT false,
        PRIMARY KEY (scope, name)
      );
      CREATE INDEX volumes_due_at ON ${s}.volumes (due_at) WHERE due_at IS NOT NULL;
      CREATE INDEX volumes_with_intent ON ${s}.volumes (due_at) WHERE has_intent;
      CREATE TABLE ${s}.forks (
        id text COLLATE "C" PRIMARY KEY,
        scope text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        live boolean NOT NULL,
        ended_at bigint,
        record jsonb NOT NULL
      );
      CREATE INDEX forks_live ON ${s}.forks (scope, name) WHERE live;
      CREATE INDEX forks_ended_at ON ${s}.forks (ended_at) WHERE NOT live;`,
  },
];

/** The newest schema version this release knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The advisory lock key that serialises migrations of one schema, whoever runs them. */
export function migrationLockKey(schema: string): string {
  return createHash('sha256')
    .update(`cachevol-store-postgres:migrate:${schema}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/**
 * Brings a schema up to {@link SCHEMA_VERSION}, in one transaction under a transaction-level
 * advisory lock, so that hosts starting at once run each step exactly once and wait for each
 * other. Creates the schema if it does not exist (checked first, so a user who may not create
 * schemas can use one made for it). A schema migrated by a newer release is refused.
 *
 * @param client - a connection not inside a transaction
 * @param schema - the schema name (validated)
 * @throws `STORE_FAILED` when the schema is newer than this release
 */
export async function migrate(client: ClientBase, schema: string): Promise<void> {
  const s = escapeIdentifier(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey(schema)]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::int AS version FROM ${s}.migrations`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new CacheVolumeError(
        'STORE_FAILED',
        `The PostgreSQL schema "${schema}" is at version ${current}, made by a newer @cachevol/store-postgres; ` +
          `this one knows versions up to ${SCHEMA_VERSION}. Upgrade @cachevol/store-postgres on this host ` +
          '(every host sharing the schema must run a release that knows its version).',
        { details: { schema, version: current, known: SCHEMA_VERSION } },
      );
    }
    for (const step of MIGRATIONS.slice(current)) {
      await client.query(step.sql(s));
      await client.query(`INSERT INTO ${s}.migrations (version, description) VALUES ($1, $2)`, [
        step.version,
        step.description,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Runs {@link migrate} on a connection of the pool, and destroys that connection rather than
 * returning it if it failed.
 *
 * @param pool - the store's pool
 * @param schema - the schema name (validated)
 */
export async function migratePool(pool: Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  let asyncError: unknown;
  const onError = (error: unknown) => {
    asyncError ??= error;
  };
  // A checked-out client has no error listener of the pool's: keep a server-side error from crashing.
  client.on('error', onError);
  let broken = false;
  try {
    await migrate(client, schema);
  } catch (error) {
    broken = asyncError !== undefined || isConnectionLost(error);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken ? true : undefined);
  }
}
