import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ForkRecord } from '@cachevol/core';
import { counterVolume, increment, testFork } from '@cachevol/core/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { openSqliteStore } from '../src/internal/open-store.js';
import { SCHEMA_VERSION } from '../src/internal/schema.js';
import { failure, TEST_BUSY_TIMEOUT_MS, tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();
const key = { scope: 'pipe', name: 'deps' };
const T0 = 1_700_000_000_000;

/** A store on a fresh file, and a raw connection to look at its rows. */
function setUp() {
  const path = join(dir(), 'state.db');
  const store = createSqliteStore({ path, busyTimeoutMs: TEST_BUSY_TIMEOUT_MS });
  const raw = new Database(path);
  return { path, store, raw };
}

describe('createSqliteStore: options and files', () => {
  it('refuses options that cannot work, naming the option', async () => {
    expect((await failure(() => createSqliteStore({} as never))).message).toMatch(/path/);
    const unknown = await failure(() => createSqliteStore({ path: join(dir(), 'x.db'), lock: 1 } as never));
    expect(unknown.code).toBe('INVALID_ARGUMENT');
    expect(unknown.message).toMatch(/lock/);
    const timeout = await failure(() => createSqliteStore({ path: join(dir(), 'x.db'), busyTimeoutMs: 0 }));
    expect(timeout.message).toMatch(/busyTimeoutMs/);
  });

  it('creates the directory and a WAL database with the current schema, at an absolute path', async () => {
    const path = join(dir(), 'nested', 'deeper', 'state.db');
    const store = createSqliteStore({ path: relative(process.cwd(), path) });
    expect(store.path).toBe(path);
    expect(store.name).toBe('sqlite');
    expect(existsSync(path)).toBe(true);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'schema_written_by'").pluck().get()).toBe(
      '@cachevol/store-sqlite 0.0.0',
    );
    raw.close();
    await store.close();
  });

  it('closes idempotently, and every call after close fails with STORE_FAILED', async () => {
    const { store, raw } = setUp();
    raw.close();
    await store.close();
    await store.close();
    const calls = [
      () => store.read(key),
      () => store.transact(key, increment),
      () => store.findFork('f1'),
      () => store.listVolumes(),
      () => store.claimDue({ now: T0, limit: 1 }, increment),
      () => store.pruneForks(T0),
    ];
    for (const call of calls) {
      const error = await failure(call);
      expect(error.code).toBe('STORE_FAILED');
      expect(error.message).toMatch(/was closed/);
    }
  });
});

describe('createSqliteStore: rows', () => {
  it('writes back only what changed: forks by reference, the record when it is another object', async () => {
    const { store, raw } = setUp();
    raw.exec(`
      CREATE TABLE writes (what TEXT);
      CREATE TRIGGER fork_insert AFTER INSERT ON forks BEGIN INSERT INTO writes VALUES ('fork ' || new.id); END;
      CREATE TRIGGER fork_update AFTER UPDATE ON forks BEGIN INSERT INTO writes VALUES ('fork ' || new.id); END;
      CREATE TRIGGER volume_insert AFTER INSERT ON volumes BEGIN INSERT INTO writes VALUES ('volume'); END;
      CREATE TRIGGER volume_update AFTER UPDATE ON volumes BEGIN INSERT INTO writes VALUES ('volume'); END;
    `);
    const writes = () => raw.prepare('DELETE FROM writes RETURNING what').pluck().all().sort();
    await store.transact(key, (s) => ({
      slice: { ...s, volume: counterVolume(key), forks: { a: testFork(key, 'a'), b: testFork(key, 'b') } },
      result: undefined,
    }));
    expect(writes()).toEqual(['fork a', 'fork b', 'volume']);
    await store.transact(key, (s) => ({ slice: s, result: undefined }));
    await store.transact(key, (s) => ({ slice: { ...s, forks: { ...s.forks } }, result: undefined }));
    expect(writes()).toEqual([]);
    // A fork whose lease moves: that fork and the schedule columns, not the record.
    await store.transact(key, (s) => ({
      slice: { ...s, forks: { ...s.forks, a: { ...(s.forks.a as ForkRecord), expiresAt: T0 + 1 } } },
      result: undefined,
    }));
    expect(writes()).toEqual(['fork a', 'volume']);
    expect(raw.prepare('SELECT due_at FROM volumes').pluck().get()).toBe(T0 + 1);
    // A fork that changes without moving the schedule: no volume row write at all.
    await store.transact(key, (s) => ({
      slice: { ...s, forks: { b: { ...(s.forks.b as ForkRecord), job: 'other' } } },
      result: undefined,
    }));
    expect(writes()).toEqual(['fork b']);
    await store.transact(key, increment);
    expect(writes()).toEqual(['volume']);
    raw.close();
    await store.close();
  });

  it('keeps due_at over the slice as stored: forks the function left out still count', async () => {
    const { store, raw } = setUp();
    const schedule = () => raw.prepare('SELECT due_at, has_intent FROM volumes').get();
    await store.transact(key, (s) => ({
      slice: {
        ...s,
        volume: counterVolume(key),
        forks: {
          soon: testFork(key, 'soon', { expiresAt: T0 + 10 }),
          busy: testFork(key, 'busy', { state: 'committing', versionId: 'v1', expiresAt: T0 + 500 }),
        },
      },
      result: undefined,
    }));
    expect(schedule()).toEqual({ due_at: T0 + 10, has_intent: 1 });
    // Changes the record, returns no forks: both forks are kept, and so is the schedule.
    await store.transact(key, (s) => ({ slice: { ...increment(s).slice, forks: {} }, result: undefined }));
    expect(schedule()).toEqual({ due_at: T0 + 10, has_intent: 1 });
    expect(await store.claimDue({ now: T0 + 20, limit: 5 }, (s) => ({ slice: s, result: s.name }))).toEqual([
      'deps',
    ]);
    // The soon fork ends: the schedule moves to the committing one.
    await store.transact(key, (s) => ({
      slice: {
        ...s,
        forks: { soon: { ...(s.forks.soon as ForkRecord), state: 'abandoned', endedAt: T0 + 20 } },
      },
      result: undefined,
    }));
    expect(schedule()).toEqual({ due_at: T0 + 500, has_intent: 1 });
    expect(await store.claimDue({ now: T0 + 20, limit: 5 }, (s) => ({ slice: s, result: s.name }))).toEqual(
      [],
    );
    expect(
      await store.claimDue({ now: T0 + 20, force: true, limit: 5 }, (s) => ({ slice: s, result: s.name })),
    ).toEqual(['deps']);
    raw.close();
    await store.close();
  });

  it('keeps a volume row without a record while live forks remain, and drops it after', async () => {
    const { store, raw } = setUp();
    const rows = () => raw.prepare('SELECT record IS NULL AS bare, due_at FROM volumes').all();
    const live = testFork(key, 'live', { expiresAt: T0 + 10 });
    await store.transact(key, (s) => ({
      slice: { ...s, volume: counterVolume(key), forks: { live } },
      result: undefined,
    }));
    await store.transact(key, (s) => ({ slice: { ...s, volume: null }, result: undefined }));
    expect(rows()).toEqual([{ bare: 1, due_at: T0 + 10 }]);
    expect(await store.read(key)).toEqual({ ...key, volume: null, forks: { live } });
    expect(await store.listVolumes()).toEqual({ slices: [], next: null });
    expect(await store.claimDue({ now: T0 + 10, limit: 5 }, (s) => ({ slice: s, result: s.name }))).toEqual([
      'deps',
    ]);
    await store.transact(key, (s) => ({
      slice: { ...s, forks: { live: { ...live, state: 'abandoned', endedAt: T0 + 20 } } },
      result: undefined,
    }));
    expect(rows()).toEqual([]);
    expect((await store.findFork('live'))?.state).toBe('abandoned');
    raw.close();
    await store.close();
  });

  it('pages in (scope, name) byte order, whatever the characters', async () => {
    const { store, raw } = setUp();
    raw.close();
    const names = ['b', 'B', 'a-b', 'a', 'a.b', 'é', 'z', '～', '😀', 'a b'];
    const keys = names.flatMap((scope) => ['y', 'x'].map((name) => ({ scope, name })));
    for (const k of keys) await store.transact(k, increment);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof store.listVolumes>> = await store.listVolumes({
        after,
        limit: 3,
      });
      seen.push(...page.slices.map((s) => `${s.scope}\u0000${s.name}`));
      after = page.next;
    } while (after);
    const bytes = keys
      .map((k) => `${k.scope}\u0000${k.name}`)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(seen).toEqual(bytes);
    const error = await failure(() => store.listVolumes({ limit: 0 }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    await store.close();
  });

  it('hands out frozen records, so a slice function cannot change a loaded one in place', async () => {
    const { store, raw } = setUp();
    raw.close();
    await store.transact(key, increment);
    const error = await store
      .transact(key, (s) => {
        (s.volume as { seq: number }).seq = 5;
        return { slice: s, result: undefined };
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(Object.isFrozen((await store.read(key)).volume?.counts)).toBe(true);
    await store.close();
  });
});

describe('createSqliteStore: transactions', () => {
  it('writes durable transactions with synchronous=FULL, and others with NORMAL', async () => {
    const path = join(dir(), 'state.db');
    const seen: number[] = [];
    const store = openSqliteStore(
      { path },
      { inWriteTransaction: (db) => seen.push(db.pragma('synchronous', { simple: true }) as number) },
    );
    const NORMAL = 1;
    const FULL = 2;
    await store.transact(key, increment);
    await store.transact(key, increment, { durable: true });
    await store.transact(key, increment);
    await store
      .transact(
        key,
        () => {
          throw new Error('boom');
        },
        { durable: true },
      )
      .catch(() => undefined);
    await store.transact(key, increment);
    expect(seen).toEqual([NORMAL, FULL, NORMAL, FULL, NORMAL]);
    await store.close();
  });

  it('passes an error the slice function threw through unchanged, even an SQLite one', async () => {
    const { store, raw } = setUp();
    const thrown = new Database.SqliteError('made up', 'SQLITE_BUSY');
    const error = await store
      .transact(key, () => {
        throw thrown;
      })
      .catch((e: unknown) => e);
    expect(error).toBe(thrown);
    raw.close();
    await store.close();
  });

  it('lets readers read while another process holds the write lock', async () => {
    const { store, raw } = setUp();
    await store.transact(key, increment);
    raw.exec('BEGIN IMMEDIATE');
    raw.prepare("UPDATE volumes SET record = json_set(record, '$.counts.hit', 42)").run();
    expect((await store.read(key)).volume?.counts.hit).toBe(1);
    raw.exec('COMMIT');
    expect((await store.read(key)).volume?.counts.hit).toBe(42);
    raw.close();
    await store.close();
  });
});
