import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { describeWith, postgresBinDir } from '../../../../test-support/gate.js';

/** The database the helper creates in a cluster it starts. */
const DATABASE = 'cachevol_test';

/** The uid and gid of the `postgres` user, from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
  } catch {
    return undefined;
  }
}

const isRoot = process.getuid?.() === 0;

function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  const user = isRoot ? postgresUser() : undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A throwaway PostgreSQL cluster in a temporary directory (`cachevol-test-pg-*`). */
export interface Cluster {
  /** The cluster's directory: data in `data/`, the unix socket and `log` beside it. */
  dir: string;
  /** Its TCP port on 127.0.0.1 (also the socket's name). */
  port: number;
  /** The test database's connection string, over the unix socket. */
  url: string;
  /** Stops the server (`fast` by default; `immediate` is a crash: no checkpoint, WAL replay on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again after {@link Cluster.stop}. */
  start(): Promise<void>;
  /** Stops the server and removes the directory. */
  destroy(): Promise<void>;
}

/**
 * Starts a cluster with initdb and pg_ctl, as the `postgres` user when running as root (spawn
 * with its uid and gid; no shell), on a unix socket in its own temporary directory and a free
 * port on 127.0.0.1, and creates the test database.
 */
export async function startCluster(): Promise<Cluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)');
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-pg-'));
  const user = isRoot ? postgresUser() : undefined;
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const pgCtl = (args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, ...args], dir);
  const start = () =>
    pgCtl([
      '-l',
      join(dir, 'log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      'start',
    ]).catch((error: Error) => {
      const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
      throw new Error(`${error.message}\nserver log:\n${log}`);
    });
  const stop = (mode: 'fast' | 'immediate' = 'fast') => pgCtl(['-m', mode, '-w', 'stop']);
  try {
    await run(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      dir,
    );
    await start();
    const admin = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    // A collation that does not sort by bytes, so the tests see that the store's ordering does.
    await admin
      .query(`CREATE DATABASE ${DATABASE} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0`)
      .catch(() => admin.query(`CREATE DATABASE ${DATABASE}`));
    await admin.end();
  } catch (error) {
    await stop('immediate').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    port,
    url: `postgres://postgres@/${DATABASE}?host=${encodeURIComponent(dir)}&port=${port}`,
    stop,
    start,
    async destroy() {
      await stop('fast').catch(() => stop('immediate').catch(() => undefined));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The test database of a suite: from `CACHEVOL_TEST_POSTGRES_URL`, or a cluster the suite started. */
export interface TestDatabase {
  /** Its connection string. */
  url: string;
  /** The cluster, when the suite started one (not with `CACHEVOL_TEST_POSTGRES_URL`). */
  cluster?: Cluster;
  /** A new, empty schema name; dropped (with everything in it) after the test, or by `drop`. */
  freshSchema(): string;
  /** Drops a schema made by {@link TestDatabase.freshSchema}. */
  drop(schema: string): Promise<void>;
  /** Runs one SQL statement as the test user (for checks and for holding locks). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
}

/**
 * `describe` for suites that need PostgreSQL: uses `CACHEVOL_TEST_POSTGRES_URL` when set (and
 * `ownCluster` is not asked for), else starts a throwaway cluster for the file and stops it when
 * the file ends. It goes through the availability gate (`test-support/gate.ts`): when the server
 * at the URL does not answer, or no cluster can be started, the suite is skipped with the reason
 * (printed as one line at the end of the run) and makes nothing, except under `CI=true`, where
 * that fails.
 *
 * @param title - the suite title
 * @param body - the suite; `db()` gives the test database once the suite started
 * @param options - `ownCluster`: always start a cluster (for tests that stop the server)
 */
export function describeWithPostgres(
  title: string,
  body: (db: () => TestDatabase) => void,
  options: { ownCluster?: boolean } = {},
): void {
  describeWith(options.ownCluster ? 'postgres-cluster' : 'postgres', title, () => {
    let database: TestDatabase | undefined;
    let admin: pg.Pool | undefined;
    const schemas = new Set<string>();
    beforeAll(async () => {
      const given = options.ownCluster ? undefined : process.env.CACHEVOL_TEST_POSTGRES_URL;
      const cluster = given ? undefined : await startCluster();
      const url = given ?? (cluster as Cluster).url;
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on('error', () => undefined);
      admin = pool;
      database = {
        url,
        cluster,
        freshSchema() {
          const schema = `t_${randomBytes(6).toString('hex')}`;
          schemas.add(schema);
          return schema;
        },
        async drop(schema) {
          schemas.delete(schema);
          await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
        },
        async sql(text, values) {
          return (await pool.query(text, values)).rows;
        },
      };
    });
    // Runs after the test file's own afterEach hooks (which close its stores).
    afterEach(async () => {
      for (const schema of schemas) await database?.drop(schema);
    });
    afterAll(async () => {
      await admin?.end().catch(() => undefined);
      await database?.cluster?.destroy();
    });
    body(() => {
      if (!database) throw new Error('the PostgreSQL test database is not set up yet');
      return database;
    });
  });
}
