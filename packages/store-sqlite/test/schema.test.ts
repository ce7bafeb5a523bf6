import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { increment, runStoreWorkers } from '@cachevol/core/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from '../src/internal/schema.js';
import { failure, PATIENT_BUSY_TIMEOUT_MS, TEST_BUSY_TIMEOUT_MS, tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();
const key = { scope: 'pipe', name: 'deps' };
const fixture = fileURLToPath(new URL('./fixtures/open-store.mjs', import.meta.url));

async function storeWithData(): Promise<string> {
  const path = join(dir(), 'state.db');
  const store = createSqliteStore({ path });
  await store.transact(key, increment);
  await store.close();
  return path;
}

describe('schema and migrations', () => {
  it('refuses a database written by a newer cachevol, saying which, and leaves it unchanged', async () => {
    const path = await storeWithData();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw
      .prepare("UPDATE meta SET value = '@cachevol/store-sqlite 9.9.9' WHERE key = 'schema_written_by'")
      .run();
    raw.close();
    const before = readFileSync(path);
    const error = await failure(() => createSqliteStore({ path }));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/schema version 99, written by @cachevol\/store-sqlite 9\.9\.9/);
    expect(error.message).toMatch(/knows schema versions up to 1\b/);
    expect(error.message).toMatch(/Upgrade cachevol/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('applies missing migrations in one transaction, keeping the data, and records who did', async () => {
    const path = await storeWithData();
    const raw = new Database(path);
    migrate(raw, path, [...MIGRATIONS, 'ALTER TABLE volumes ADD COLUMN note TEXT']);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(raw.prepare('SELECT note FROM volumes').all()).toEqual([{ note: null }]);
    raw.close();
    // This code knows one schema version less: it refuses the database.
    const error = await failure(() => createSqliteStore({ path }));
    expect(error.message).toMatch(/written by @cachevol\/store-sqlite 0\.0\.0/);
  });

  it('rolls a failing migration back whole', async () => {
    const path = await storeWithData();
    const raw = new Database(path);
    expect(() =>
      migrate(raw, path, [...MIGRATIONS, 'CREATE TABLE extra (x INTEGER); SELECT * FROM missing']),
    ).toThrow(/missing/);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.prepare("SELECT name FROM sqlite_schema WHERE name = 'extra'").all()).toEqual([]);
    raw.close();
    const store = createSqliteStore({ path });
    expect((await store.read(key)).volume?.counts.hit).toBe(1);
    await store.close();
  });

  it('refuses a database that cachevol did not make', async () => {
    const path = join(dir(), 'other.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE users (id INTEGER)');
    raw.close();
    const error = await failure(() => createSqliteStore({ path }));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(/tables that cachevol did not create/);
    const again = new Database(path);
    expect(again.pragma('user_version', { simple: true })).toBe(0);
    expect(again.prepare('SELECT name FROM sqlite_schema').pluck().all()).toEqual(['users']);
    again.close();
  });

  it('creates a new database once when several processes open it at the same moment', async () => {
    const path = join(dir(), 'fresh', 'state.db');
    const results = await runStoreWorkers(
      { module: fixture, config: { path, busyTimeoutMs: PATIENT_BUSY_TIMEOUT_MS } },
      Array.from({ length: 6 }, () => ({ task: 'increment' as const, key, count: 5 })),
    );
    for (const r of results) expect(r.errors).toEqual([]);
    const store = createSqliteStore({ path, busyTimeoutMs: TEST_BUSY_TIMEOUT_MS });
    expect((await store.read(key)).volume?.counts.hit).toBe(30);
    await store.close();
  });
});
