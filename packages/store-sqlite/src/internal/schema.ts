import { CacheVolumeError } from '@cachevol/core';
import type { Database } from 'better-sqlite3';
import { WRITER } from './version.js';

/**
 * The schema, as migrations applied in order. Migration `n` (1-based) takes a database from
 * schema `n - 1` to `n`; the schema version is kept in `PRAGMA user_version`. Never change a
 * migration that has shipped: add one.
 *
 * - `volumes`: one row per volume that has a record or live forks. `record` is the
 *   `VolumeRecord` as JSON (`NULL` while only live forks remain); `due_at` and `has_intent` are
 *   `sliceSchedule` of the stored slice, indexed so `claimDue` finds due volumes directly.
 * - `forks`: one row per fork, live or ended (until pruned), with its record as JSON. `live`
 *   is 1 in the states `creating`, `attached`, `committing` and `abandoning`.
 * - `meta`: facts about the database itself: who wrote the schema, the `state.json` import.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE volumes (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    record TEXT,
    due_at INTEGER,
    has_intent INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
  ) STRICT;
  CREATE INDEX volumes_by_due_at ON volumes (due_at) WHERE due_at IS NOT NULL;
  CREATE TABLE forks (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    live INTEGER NOT NULL,
    ended_at INTEGER,
    record TEXT NOT NULL
  ) STRICT;
  CREATE INDEX forks_live_by_volume ON forks (scope, name, id) WHERE live = 1;
  CREATE INDEX forks_ended_by_ended_at ON forks (ended_at) WHERE live = 0;
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The `meta` key that records which package version last migrated the schema. */
const WRITTEN_BY = 'schema_written_by';

const userVersion = (db: Database): number => db.pragma('user_version', { simple: true }) as number;

function writtenBy(db: Database): string {
  try {
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(WRITTEN_BY) as
      | { value: string }
      | undefined;
    return row?.value ?? 'an unknown cachevol version';
  } catch {
    return 'an unknown cachevol version';
  }
}

function refuseNewer(db: Database, path: string, found: number, known: number): never {
  const by = writtenBy(db);
  throw new CacheVolumeError(
    'STORE_FAILED',
    `The SQLite database ${path} has schema version ${found}, written by ${by}; this ${WRITER} knows schema versions up to ${known}. It was left unchanged. Upgrade cachevol here to the version that wrote it or a later one (every process that shares ${path} must run it), or point the store at another file.`,
    { details: { path, schemaVersion: found, knownVersion: known, writtenBy: by } },
  );
}

function refuseForeign(path: string): never {
  throw new CacheVolumeError(
    'STORE_FAILED',
    `The SQLite database ${path} holds tables that cachevol did not create. It was left unchanged. Point the store at a file of its own (e.g. ROOT/state.db).`,
    { details: { path } },
  );
}

/**
 * Brings the database's schema up to date ({@link SCHEMA_VERSION}): every missing migration, and the
 * `meta` row naming this package version, in one `BEGIN IMMEDIATE` transaction, so processes
 * opening a new database at once migrate it exactly once. A database that is current costs
 * one `PRAGMA user_version` read and no write lock.
 *
 * @param db - the open connection
 * @param path - the database file, for messages
 * @param migrations - the migrations (tests pass their own)
 * @throws `STORE_FAILED` for a schema newer than this code, or a database cachevol did not make
 */
export function migrate(db: Database, path: string, migrations: readonly string[] = MIGRATIONS): void {
  const target = migrations.length;
  const seen = userVersion(db);
  if (seen === target) return;
  if (seen > target) refuseNewer(db, path, seen, target);
  db.transaction(() => {
    const current = userVersion(db);
    if (current === target) return;
    if (current > target) refuseNewer(db, path, current, target);
    if (current === 0) {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as {
        n: number;
      };
      if (tables.n > 0) refuseForeign(path);
    }
    for (let version = current + 1; version <= target; version++) {
      db.exec(migrations[version - 1] as string);
    }
    db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(WRITTEN_BY, WRITER);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}
