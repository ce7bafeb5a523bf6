import { isCacheVolumeError, type SliceFunction, type Store, type VolumeKey } from '@cachevol/core';
import { increment, testFork } from '@cachevol/core/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStoreOptions, SCHEMA_VERSION } from '../src/index.js';
import { describeWithPostgres } from './helpers/postgres.js';

const T0 = 1_700_000_000_000;
/** A lock timeout that only a hang reaches: tests that wait for a held volume use it. */
const PATIENT_LOCK_TIMEOUT_MS = 60_000;

async function caught(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: Error) => error,
  );
}

/** Adds forks to a slice (and one to its hit counter, creating the record if needed). */
const withForks =
  (...forks: ReturnType<typeof testFork>[]): SliceFunction<void> =>
  (slice) => {
    const counted = increment(slice).slice;
    const added = Object.fromEntries(forks.map((f) => [f.id, f]));
    return { slice: { ...counted, forks: { ...slice.forks, ...added } }, result: undefined };
  };

/** Claims every live fork whose lease ended, moving its lease to `until`. */
const claimExpired =
  (now: number, until: number): SliceFunction<string[]> =>
  (slice) => {
    const forks = { ...slice.forks };
    const claimed: string[] = [];
    for (const fork of Object.values(slice.forks))
      if (fork.expiresAt <= now) {
        forks[fork.id] = { ...fork, expiresAt: until };
        claimed.push(fork.id);
      }
    return { slice: { ...slice, forks }, result: claimed };
  };

describeWithPostgres('postgres store', (db) => {
  const opened: Store[] = [];
  const clients: pg.Client[] = [];
  const open = (schema: string, extra: Partial<PostgresStoreOptions> = {}) => {
    const store = createPostgresStore({ connectionString: db().url, schema, ...extra });
    opened.push(store);
    return store;
  };
  /** Holds a volume's row lock from another connection, as a stalled host would. */
  const holdVolume = async (schema: string, key: VolumeKey) => {
    const client = new pg.Client({ connectionString: db().url });
    clients.push(client);
    await client.connect();
    await client.query('BEGIN');
    const { rowCount } = await client.query(
      `SELECT 1 FROM ${pg.escapeIdentifier(schema)}.volumes WHERE scope = $1 AND name = $2 FOR UPDATE`,
      [key.scope, key.name],
    );
    expect(rowCount).toBe(1);
    return { release: () => client.query('ROLLBACK') };
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    for (const client of clients.splice(0)) await client.end().catch(() => undefined);
  });

  describe('migrations', () => {
    it('creates the schema once when several stores start at the same time', async () => {
      const schema = db().freshSchema();
      const stores = Array.from({ length: 6 }, () => open(schema));
      await Promise.all(stores.map((s, i) => s.transact({ scope: 'race', name: `v${i}` }, increment)));
      const rows = await db().sql(`SELECT version FROM ${schema}.migrations ORDER BY version`);
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      for (let i = 0; i < 6; i++)
        expect((await stores[0]?.read({ scope: 'race', name: `v${i}` }))?.volume).not.toBeNull();
    });

    it('uses a schema made for it, and keeps scope and name in byte order', async () => {
      const schema = db().freshSchema();
      await db().sql(`CREATE SCHEMA ${schema}`);
      const store = open(schema);
      const scopes = ['b', 'B', 'a', '_x', 'A', 'é', 'Z'];
      for (const scope of scopes) await store.transact({ scope, name: 'v' }, increment);
      const page = await store.listVolumes();
      expect(page.slices.map((s) => s.scope)).toEqual([...scopes].sort());
    });

    it('refuses a schema migrated by a newer release, and says what to do', async () => {
      const schema = db().freshSchema();
      await open(schema).read({ scope: 's', name: 'n' });
      await db().sql(
        `INSERT INTO ${schema}.migrations (version, description) VALUES ($1, 'from the future')`,
        [SCHEMA_VERSION + 1],
      );
      const error = await caught(open(schema).read({ scope: 's', name: 'n' }));
      expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      expect(error.message).toContain(`"${schema}" is at version ${SCHEMA_VERSION + 1}`);
      expect(error.message).toMatch(/Upgrade @cachevol\/store-postgres/);
    });
  });

  describe('connection errors', () => {
    const freePort = async () => {
      const { createServer } = await import('node:net');
      return new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const address = server.address();
          server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
        });
      });
    };

    it('names the host, port, database and user of a server that is not there, never the password', async () => {
      const port = await freePort();
      const store = createPostgresStore({
        connectionString: `postgres://fleet:s3cret@127.0.0.1:${port}/cachevol`,
      });
      opened.push(store);
      const error = await caught(store.transact({ scope: 's', name: 'n' }, increment));
      expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      expect(error.message).toContain(`Cannot connect to PostgreSQL at 127.0.0.1:${port}`);
      expect(error.message).toContain('(database "cachevol", user "fleet")');
      expect(error.message).toMatch(/Check that PostgreSQL is running/);
      expect(`${error.message}${JSON.stringify((error as { details?: unknown }).details)}`).not.toContain(
        's3cret',
      );
      // A later call tries again, and fails the same way.
      expect((await caught(store.read({ scope: 's', name: 'n' }))).message).toContain('Cannot connect');
    });

    it('names a unix socket that does not exist', async () => {
      const store = open('cachevol', {
        connectionString: 'postgres://ci@/cachevol?host=/nonexistent/cachevol-socket-dir',
      });
      const error = await caught(store.read({ scope: 's', name: 'n' }));
      expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      expect(error.message).toContain('the unix socket /nonexistent/cachevol-socket-dir/.s.PGSQL.5432');
    });

    it('says when the database or the user does not exist', async () => {
      // postgres://user[:password]@host/database?params, whatever the test database's URL holds.
      const parts = /^(postgres(?:ql)?:\/\/)(?:([^@/]*)@)?([^/?]*)\/?([^?]*)(.*)$/.exec(db().url);
      if (!parts) throw new Error(`cannot take apart ${db().url}`);
      const [, scheme, user = '', host, database, rest] = parts;
      const other = `${scheme}${user ? `${user}@` : ''}${host}/no_such_database${rest}`;
      const noDatabase = await caught(
        open('cachevol', { connectionString: other }).read({ scope: 's', name: 'n' }),
      );
      expect(isCacheVolumeError(noDatabase, 'STORE_FAILED'), String(noDatabase)).toBe(true);
      expect(noDatabase.message).toMatch(/database "no_such_database".*Create the database/s);
      const stranger = `${scheme}no_such_user@${host}/${database}${rest}`;
      const refused = await caught(
        open('cachevol', { connectionString: stranger }).read({ scope: 's', name: 'n' }),
      );
      expect(isCacheVolumeError(refused, 'STORE_FAILED'), String(refused)).toBe(true);
      expect(refused.message).toMatch(/refused the login: .*no_such_user.*pg_hba.conf/s);
    });
  });

  describe('locking', () => {
    const key = { scope: 'pipe', name: 'deps' };

    it('fails STORE_FAILED, writing nothing, when another client holds the volume past lockTimeoutMs', async () => {
      const schema = db().freshSchema();
      const store = open(schema, { lockTimeoutMs: 300 });
      await store.transact(key, increment);
      const holder = await holdVolume(schema, key);
      const started = Date.now();
      const error = await caught(store.transact(key, increment));
      expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      expect(error.message).toMatch(
        /Another client held volume pipe\/deps for longer than lockTimeoutMs \(300 ms\)/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      await holder.release();
      expect(await store.transact(key, increment)).toBe(2);
    });

    it('fails a transaction that stalls past idleInTransactionTimeoutMs, and writes nothing', async () => {
      const schema = db().freshSchema();
      const store = open(schema, { idleInTransactionTimeoutMs: 200 });
      await store.transact(key, increment);
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const error = await caught(
        store.transact(key, (slice) => {
          Atomics.wait(pause, 0, 0, 700); // a paused process: no I/O, no timers
          return increment(slice);
        }),
      );
      expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      expect(error.message).toMatch(
        /longer than idleInTransactionTimeoutMs \(200 ms; it was idle for \d+ ms\).*nothing was written/,
      );
      expect((await store.read(key)).volume?.counts.hit).toBe(1);
      expect(await store.transact(key, increment)).toBe(2);
    });

    it('lets transactions on other volumes go on while one volume is held', async () => {
      const schema = db().freshSchema();
      // The waiting transaction must outlast the 20 others, however slowly a loaded machine runs them.
      const store = open(schema, { lockTimeoutMs: PATIENT_LOCK_TIMEOUT_MS });
      await store.transact(key, increment);
      const holder = await holdVolume(schema, key);
      const waiting = store.transact(key, increment);
      const others = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.transact({ scope: 'pipe', name: `other-${i}` }, increment),
        ),
      );
      expect(others).toEqual(Array(20).fill(1));
      await holder.release();
      expect(await waiting).toBe(2);
    });
  });

  describe('claims', () => {
    const seed = async (store: Store, count: number) => {
      for (let i = 0; i < count; i++) {
        const k = { scope: 'due', name: `v${String(i).padStart(2, '0')}` };
        await store.transact(k, withForks(testFork(k, `f${i}`, { expiresAt: T0 + i })));
      }
    };

    it('skips a volume another client holds instead of waiting for it', async () => {
      const schema = db().freshSchema();
      const store = open(schema, { lockTimeoutMs: PATIENT_LOCK_TIMEOUT_MS });
      await seed(store, 4);
      const holder = await holdVolume(schema, { scope: 'due', name: 'v00' });
      const started = Date.now();
      const claimed = await store.claimDue({ now: T0 + 100, limit: 10 }, claimExpired(T0 + 100, T0 + 50_000));
      // A claimer that waited for the held volume would take the whole lock timeout (or fail).
      expect(Date.now() - started).toBeLessThan(PATIENT_LOCK_TIMEOUT_MS);
      expect(claimed.flat().sort()).toEqual(['f1', 'f2', 'f3']);
      await holder.release();
      const rest = await store.claimDue({ now: T0 + 100, limit: 10 }, claimExpired(T0 + 100, T0 + 50_000));
      expect(rest.flat()).toEqual(['f0']);
    });

    it('never gives one volume to two of several concurrent claimers', async () => {
      const schema = db().freshSchema();
      const seeder = open(schema);
      await seed(seeder, 40);
      const claimers = Array.from({ length: 5 }, () => open(schema));
      const taken = await Promise.all(
        claimers.map(async (claimer) => {
          const mine: string[] = [];
          for (;;) {
            const batch = (
              await claimer.claimDue({ now: T0 + 100, limit: 3 }, claimExpired(T0 + 100, T0 + 50_000))
            ).flat();
            if (batch.length === 0) return mine;
            mine.push(...batch);
          }
        }),
      );
      const all = taken.flat();
      expect(all.length).toBe(40);
      expect(new Set(all).size).toBe(40);
      // Every claim was written: nothing is due any more.
      expect(
        await seeder.claimDue({ now: T0 + 100, limit: 100 }, claimExpired(T0 + 100, T0 + 50_000)),
      ).toEqual([]);
    });

    it('claims in one transaction: a claim function that throws claims nothing', async () => {
      const schema = db().freshSchema();
      const store = open(schema);
      await seed(store, 3);
      const boom = new Error('boom');
      let calls = 0;
      const error = await caught(
        store.claimDue({ now: T0 + 100, limit: 10 }, (slice) => {
          if (++calls === 2) throw boom;
          return claimExpired(T0 + 100, T0 + 50_000)(slice);
        }),
      );
      expect(error).toBe(boom);
      const claimed = await store.claimDue({ now: T0 + 100, limit: 10 }, claimExpired(T0 + 100, T0 + 50_000));
      expect(claimed.flat().sort()).toEqual(['f0', 'f1', 'f2']);
    });
  });

  describe('durability and pools', () => {
    /** A pool that records the text of every statement its clients run. */
    const spiedPool = () => {
      const texts: string[] = [];
      const pool = new pg.Pool({ connectionString: db().url, max: 2 });
      pool.on('connect', (client) => {
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        Object.assign(client, {
          query: (...args: unknown[]) => {
            const first = args[0] as string | { text: string };
            texts.push(typeof first === 'string' ? first : first.text);
            return query(...args);
          },
        });
      });
      return { pool, texts };
    };

    it('commits durable transactions synchronously and others with synchronous_commit off', async () => {
      const { pool, texts } = spiedPool();
      const store = createPostgresStore({ pool, schema: db().freshSchema() });
      opened.push(store);
      const key = { scope: 'pipe', name: 'deps' };
      await store.transact(key, increment);
      const fast = texts.filter((t) => t.startsWith('BEGIN'));
      await store.transact(key, increment, { durable: true });
      const durable = texts.filter((t) => t.startsWith('BEGIN')).slice(fast.length);
      expect(fast.at(-1)).toContain('SET LOCAL synchronous_commit = off');
      expect(durable).toHaveLength(1);
      expect(durable[0]).toContain('SET LOCAL synchronous_commit = on');
      await store.close();
      await pool.end();
    });

    it('writes nothing, and rolls back, when a transaction changes nothing', async () => {
      const { pool, texts } = spiedPool();
      const store = createPostgresStore({ pool, schema: db().freshSchema() });
      opened.push(store);
      const key = { scope: 'pipe', name: 'deps' };
      await store.transact(key, increment);
      const before = texts.length;
      await store.transact(key, (slice) => ({ slice, result: undefined }));
      await store.transact({ scope: 'pipe', name: 'never-made' }, (slice) => ({ slice, result: undefined }));
      const after = texts.slice(before);
      expect(after.filter((t) => /^\s*WITH written_forks/.test(t))).toEqual([]);
      expect(after.filter((t) => t === 'ROLLBACK')).toHaveLength(2);
      expect(await db().sql(`SELECT scope, name FROM ${store.schema}.volumes`)).toEqual([key]);
      await store.close();
      await pool.end();
    });

    it('uses a pool passed in without ending it', async () => {
      const pool = new pg.Pool({ connectionString: db().url, max: 2 });
      const store = createPostgresStore({ pool, schema: db().freshSchema() });
      await store.transact({ scope: 'p', name: 'v' }, increment);
      await store.close();
      expect(isCacheVolumeError(await caught(store.read({ scope: 'p', name: 'v' })), 'STORE_FAILED')).toBe(
        true,
      );
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await pool.end();
    });
  });
});
