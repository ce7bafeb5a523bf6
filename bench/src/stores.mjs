/**
 * The stores the store benchmarks run on: how to import each, why one cannot run here, and how
 * a cell opens a fresh one (an empty SQLite file, an empty PostgreSQL schema) and removes it
 * again. Built the same way in the orchestrator and in each child process, from a
 * JSON-serialisable {@link StoreEnvironment}.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createMemoryStore } from '@cachevol/core';
import { withSql } from './postgres.mjs';
import { messageOf } from './util.mjs';

/** Every store kind, in table order. */
export const STORE_KINDS = /** @type {const} */ (['memory', 'sqlite', 'postgres']);

/** Labels for tables. */
export const STORE_LABELS = {
  memory: 'memory (one process)',
  sqlite: 'SQLite (WAL, one host)',
  postgres: 'PostgreSQL (fleet)',
};

/**
 * @typedef {object} StoreEnvironment
 * @property {string} dir - where SQLite files go
 * @property {string | null} postgresUrl - the server's connection string, when there is one
 * @property {Record<string, string | null>} unavailable - why each kind cannot run, or `null`
 */

/**
 * @typedef {object} OpenedStore
 * @property {import('@cachevol/core').Store} store - the store
 * @property {() => Promise<import('@cachevol/core').Store>} reopen - closes it and opens the same data again
 *   (SQLite: a new connection on the same file, after SQLite checkpointed the WAL on close; the
 *   memory store cannot be reopened and is returned as it is)
 * @property {() => Promise<Record<string, number>>} size - how big the stored data is (bytes), where known
 * @property {() => Promise<void>} settle - what a long-lived database would have done by now
 *   (PostgreSQL: VACUUM ANALYZE, which autovacuum runs after bulk inserts, and a CHECKPOINT so
 *   that writing the seeding's pages out does not compete with the timed cycles)
 * @property {() => Promise<void>} dispose - closes it and removes its data
 */

/**
 * Imports the store packages, or explains why each cannot be used.
 *
 * @returns {Promise<Record<'sqlite' | 'postgres', { fn: any, reason: string | null }>>}
 */
export async function importStores() {
  const load = async (name, exportName) => {
    try {
      const mod = await import(name);
      if (typeof mod[exportName] === 'function') return { fn: mod[exportName], reason: null };
      return { fn: null, reason: `${name} does not export ${exportName} (yet)` };
    } catch (error) {
      return { fn: null, reason: `cannot import ${name} (not merged or not built?): ${messageOf(error)}` };
    }
  };
  return {
    sqlite: await load('@cachevol/store-sqlite', 'createSqliteStore'),
    postgres: await load('@cachevol/store-postgres', 'createPostgresStore'),
  };
}

/**
 * Opens a fresh store of one kind for one cell.
 *
 * @param {'memory' | 'sqlite' | 'postgres'} kind - which store
 * @param {StoreEnvironment} env - where things go
 * @param {Awaited<ReturnType<typeof importStores>>} pkgs - imported store packages
 * @param {string} cell - a name unique to the cell (a file name, a schema name)
 * @param {object} [options] - `postgresMax`: the pool size of a PostgreSQL store
 * @param {number} [options.postgresMax] - connections in the PostgreSQL store's pool
 * @returns {Promise<OpenedStore>}
 */
export async function openStore(kind, env, pkgs, cell, options = {}) {
  if (env.unavailable[kind]) throw new Error(`${kind} store unavailable: ${env.unavailable[kind]}`);
  if (kind === 'memory') {
    const store = createMemoryStore();
    return {
      store,
      reopen: async () => store,
      size: async () => ({}),
      settle: async () => undefined,
      dispose: () => store.close(),
    };
  }
  if (kind === 'sqlite') {
    const path = join(env.dir, `${cell}.db`);
    const open = () => pkgs.sqlite.fn({ path });
    let store = open();
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = open();
        return store;
      },
      async size() {
        const sizes = {};
        for (const suffix of ['', '-wal'])
          sizes[`file${suffix}`] = (await stat(`${path}${suffix}`).catch(() => null))?.size ?? 0;
        return sizes;
      },
      settle: async () => undefined,
      async dispose() {
        await store.close();
        for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
      },
    };
  }
  const url = /** @type {string} */ (env.postgresUrl);
  const schema = `bench_${cell.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`.slice(0, 63);
  await withSql(url, (sql) => sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  const open = () =>
    pkgs.postgres.fn({
      connectionString: url,
      schema,
      ...(options.postgresMax ? { max: options.postgresMax } : {}),
    });
  let store = open();
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = open();
      return store;
    },
    size: () =>
      withSql(url, async (sql) => {
        const rows = await sql(
          `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [schema],
        );
        return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
      }),
    settle: () =>
      withSql(url, async (sql) => {
        await sql(`VACUUM (ANALYZE) ${schema}.volumes, ${schema}.forks`);
        // Writes the seeding's dirty buffers out now rather than while cycles are timed (needs
        // superuser or pg_checkpoint; without, the background writer does it meanwhile).
        await sql('CHECKPOINT').catch(() => undefined);
      }),
    async dispose() {
      await store.close().catch(() => undefined);
      await withSql(url, (sql) => sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  };
}
