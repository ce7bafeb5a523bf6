/**
 * PostgreSQL for the store benchmarks: the server named by `CACHEVOL_TEST_POSTGRES_URL` when it
 * is set (CI starts one in `.ci/postgres.sh`), else a throwaway cluster started here and
 * stopped at the end, the way CI does it: `initdb` and `pg_ctl` from
 * `/usr/lib/postgresql/<version>/bin`, run as the `postgres` user when the benchmark runs as
 * root (the server refuses root), data and unix socket in a temporary directory, a free port
 * on 127.0.0.1. Nothing is installed.
 *
 * Each benchmark cell gets a schema of its own (the store's `schema` option), dropped when the
 * cell ends, so a given server is left as it was found.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { messageOf } from './util.mjs';

/** The environment variable the store-postgres tests and the benchmark read. */
export const POSTGRES_URL_VARIABLE = 'CACHEVOL_TEST_POSTGRES_URL';

/**
 * The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and `pg_ctl`, or `null`.
 */
export function postgresBinDir() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/** The uid and gid of the `postgres` user (from /etc/passwd), or `null`. */
function postgresUser() {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    return uid && gid ? { uid: Number(uid), gid: Number(gid) } : null;
  } catch {
    return null;
  }
}

/**
 * Runs a server program (as `postgres` when we are root), collecting its output.
 *
 * @param {string} program - path
 * @param {string[]} args - arguments
 * @param {string} cwd - working directory (one the postgres user can enter)
 * @returns {Promise<void>}
 */
function runServerTool(program, args, cwd) {
  const user = process.getuid?.() === 0 ? postgresUser() : null;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd,
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      // pg_ctl leaves the server running in the background: do not wait for its output pipes.
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${program} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(0, 400)}`),
          ),
    );
  });
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * @typedef {object} PostgresServer
 * @property {string} url - a connection string for the `postgres` database
 * @property {string} source - `CACHEVOL_TEST_POSTGRES_URL` or `throwaway cluster in <dir>`
 * @property {string | null} version - the server's version, once known
 * @property {() => Promise<void>} stop - stops and removes a cluster started here (no-op otherwise)
 */

/**
 * Why no throwaway cluster can be started here, or `null` when one can.
 */
export function clusterUnavailable() {
  if (process.platform !== 'linux') return 'a throwaway PostgreSQL cluster needs Linux';
  if (!postgresBinDir())
    return 'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)';
  if (process.getuid?.() === 0 && !postgresUser())
    return 'running as root, and there is no postgres user to run the server as';
  return null;
}

/**
 * The server named by `CACHEVOL_TEST_POSTGRES_URL`, or a throwaway cluster started in
 * `<tmpBase>/cachevol-bench-<pid>-pg-*` (the stale-run clean-up stops one a killed run left).
 *
 * @param {string} tmpBase - where the cluster directory goes
 * @returns {Promise<PostgresServer>}
 * @throws when no server can be had, with the reason
 */
export async function startPostgres(tmpBase) {
  const given = process.env[POSTGRES_URL_VARIABLE];
  if (given) return { url: given, source: POSTGRES_URL_VARIABLE, version: null, stop: async () => undefined };
  const reason = clusterUnavailable();
  if (reason) throw new Error(`${reason}, and ${POSTGRES_URL_VARIABLE} is not set`);
  const bin = /** @type {string} */ (postgresBinDir());
  const dir = await mkdtemp(join(tmpBase, `cachevol-bench-${process.pid}-pg-`));
  const user = process.getuid?.() === 0 ? postgresUser() : null;
  if (user) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const pgCtl = (args) => runServerTool(join(bin, 'pg_ctl'), ['-D', data, ...args], dir);
  const stop = async () => {
    await pgCtl(['-m', 'fast', '-w', 'stop']).catch(() => pgCtl(['-m', 'immediate', '-w', 'stop']));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runServerTool(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      dir,
    );
    // The server's defaults (fsync on, synchronous_commit on) except for room for 8 processes'
    // pools; the store itself commits non-durable writes with synchronous_commit = off.
    await pgCtl([
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      'start',
    ]);
  } catch (error) {
    const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
    await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw new Error(
      `throwaway PostgreSQL cluster did not start: ${messageOf(error)} ${log.trim().slice(-300)}`,
    );
  }
  const version = await readFile(join(data, 'PG_VERSION'), 'utf8').catch(() => null);
  return {
    url: `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    source: `throwaway cluster in ${dir}`,
    version: version?.trim() ?? null,
    stop,
  };
}

/**
 * The `pg` module that `@cachevol/store-postgres` itself uses (resolved from that package, so
 * the benchmark needs no dependency of its own), for the little SQL the benchmark runs:
 * dropping a cell's schema, `ANALYZE`, table sizes.
 *
 * @returns {Promise<any>}
 */
export async function importPg() {
  const require = createRequire(import.meta.resolve('@cachevol/store-postgres'));
  return require('pg');
}

/**
 * Runs statements on a short-lived connection.
 *
 * @param {string} url - connection string
 * @param {(query: (text: string, values?: unknown[]) => Promise<any[]>) => Promise<T>} work - the statements
 * @returns {Promise<T>}
 * @template T
 */
export async function withSql(url, work) {
  const pg = await importPg();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(async (text, values) => (await client.query(text, values)).rows);
  } finally {
    await client.end().catch(() => undefined);
  }
}
