/**
 * The store section of the benchmark (run.mjs calls it): how attach + commit scales with the
 * number of volumes a store holds (memory, SQLite, PostgreSQL), and how SQLite behaves when
 * 1, 2, 4 and 8 processes on this host share one file. Every cell runs in child processes
 * (store-cell.mjs); PostgreSQL is the server in `CACHEVOL_TEST_POSTGRES_URL` or a throwaway
 * cluster started here (postgres.mjs).
 */
import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, withSql } from './postgres.mjs';
import { summarizeCycles } from './store-bench.mjs';
import { importStores, STORE_KINDS } from './stores.mjs';
import { messageOf, now, round, summarize } from './util.mjs';

const CELL = join(dirname(fileURLToPath(import.meta.url)), 'store-cell.mjs');

/** The section's parts, as `--only` ids (`stores` selects both). */
export const STORE_SECTION_IDS = ['store-scaling', 'store-processes'];

/**
 * The section's settings.
 *
 * @param {boolean} quick - smoke-test sizes
 * @param {{ sizes?: number[] }} [overrides] - `--store-sizes`
 */
export function storeConfig(quick, overrides = {}) {
  return {
    scaling: {
      sizes: overrides.sizes ?? (quick ? [10, 2000] : [10, 5000, 50_000]),
      measuredVolumes: 10,
      warmupCycles: quick ? 5 : 30,
      cycles: quick ? 60 : 600,
      rounds: quick ? 2 : 10,
    },
    processes: {
      counts: quick ? [1, 8] : [1, 2, 4, 8],
      /** Per process count and round. */
      durationMs: quick ? 1000 : 5000,
      rounds: quick ? 1 : 3,
      warmupCycles: quick ? 3 : 25,
      rotateEvery: 25,
    },
  };
}

/**
 * @typedef {object} SectionContext
 * @property {ReturnType<typeof storeConfig>} config - settings
 * @property {Set<string>} parts - which of {@link STORE_SECTION_IDS} to run
 * @property {string} tmpBase - where a throwaway PostgreSQL cluster goes
 * @property {string} work - the run's work directory
 * @property {(...parts: unknown[]) => void} log - progress messages
 * @property {{ aborted: boolean }} signal - set when the run is being stopped
 * @property {(child: import('node:child_process').ChildProcess) => void} track - so Ctrl-C reaches children
 * @property {{ name: string, fn: () => Promise<void> }[]} teardown - steps run at the end
 */

/**
 * Spawns store-cell.mjs with `args` and resolves with its exit code; kills it after `timeoutMs`.
 *
 * @param {string[]} args - arguments
 * @param {SectionContext} ctx - for tracking
 * @param {number} timeoutMs - the longest it may run
 * @param {boolean} [ipc] - open an IPC channel
 */
function spawnCell(args, ctx, timeoutMs, ipc = false) {
  const child = spawn(process.execPath, [CELL, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', ...(ipc ? ['ipc'] : [])],
  });
  ctx.track(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code ?? sig);
    });
  });
  return { child, exited };
}

/**
 * How long the disk under `dir` takes to make a small write durable: 4 KiB written in place,
 * then fdatasync, `count` times. SQLite's durable commit and PostgreSQL's synchronous commit
 * each wait for one such flush, so this bounds what they can cost here.
 *
 * @param {string} dir - a directory on the disk the stores use
 * @param {number} [count] - how many flushes
 */
export function probeFsync(dir, count = 100) {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, block, 0, block.length, (i % 16) * block.length);
      const t = now();
      fdatasyncSync(fd);
      times.push(now() - t);
    }
  } finally {
    closeSync(fd);
  }
  return summarize(times);
}

/**
 * Runs the section.
 *
 * @param {SectionContext} ctx - settings and hooks
 */
export async function runStoreSection(ctx) {
  const { config, log } = ctx;
  const out = { config, environment: {}, scaling: [], processes: [] };
  const pkgs = await importStores();
  const unavailable = { memory: null, sqlite: pkgs.sqlite.reason, postgres: pkgs.postgres.reason };
  const dir = join(ctx.work, 'stores');
  await mkdir(dir, { recursive: true });
  out.environment.fsync = probeFsync(dir);
  await rm(join(dir, 'fsync-probe'), { force: true });
  log(
    `store: 4 KiB write + fdatasync here: p50 ${out.environment.fsync.p50} ms, p95 ${out.environment.fsync.p95} ms`,
  );

  if (ctx.parts.has('store-scaling')) {
    let postgresUrl = null;
    if (!unavailable.postgres) {
      try {
        const server = await startPostgres(ctx.tmpBase);
        ctx.teardown.push({ name: `PostgreSQL (${server.source})`, fn: server.stop });
        const version = await withSql(server.url, (sql) => sql('SHOW server_version'));
        postgresUrl = server.url;
        out.environment.postgres = {
          status: 'ok',
          source: server.source.startsWith('throwaway') ? 'throwaway cluster' : server.source,
          version: version[0]?.server_version ?? null,
        };
        log(`store: PostgreSQL ${out.environment.postgres.version} (${server.source})`);
      } catch (error) {
        unavailable.postgres = `PostgreSQL: ${messageOf(error)}`;
      }
    }
    if (unavailable.postgres)
      out.environment.postgres = { status: 'unavailable', reason: unavailable.postgres };
    /** @type {import('./stores.mjs').StoreEnvironment} */
    const storeEnv = { dir, postgresUrl, unavailable };
    const { sizes, measuredVolumes, warmupCycles, cycles, rounds } = config.scaling;
    for (const kind of STORE_KINDS) {
      if (ctx.signal.aborted) return out;
      if (unavailable[kind]) {
        for (const volumes of sizes)
          out.scaling.push({ kind, volumes, status: 'unavailable', reason: unavailable[kind] });
        continue;
      }
      const job = { kind, sizes, measured: measuredVolumes, warmup: warmupCycles, cycles, rounds, storeEnv };
      const base = join(dir, `scaling-${kind}`);
      await writeFile(`${base}.json`, JSON.stringify({ ...job, out: `${base}.result.json` }));
      const t = now();
      const { exited } = spawnCell([`${base}.json`], ctx, 60 * 60_000);
      const code = await exited;
      const cells = await readFile(`${base}.result.json`, 'utf8')
        .then(JSON.parse)
        .catch(() =>
          sizes.map((volumes) => ({
            kind,
            volumes,
            status: 'failed',
            reason: `store cell exited with ${code}`,
          })),
        );
      for (const cell of cells) {
        out.scaling.push({ ...cell, loadavgAtEnd: loadavg().map(round) });
        log(
          `  store ${kind} with ${cell.volumes.toLocaleString('en-US')} volumes: ${
            cell.status === 'ok'
              ? `cycle p50 ${round(cell.cycle.p50)} ms p95 ${round(cell.cycle.p95)} ms, store ${round(cell.store.p50)} ms (round p50s ${cell.roundP50s.join(' ')})`
              : `${cell.status}: ${cell.reason}`
          }`,
        );
      }
      log(`  store ${kind}: ${round((now() - t) / 1000)} s`);
    }
  }

  if (ctx.parts.has('store-processes')) {
    const { counts, rounds } = config.processes;
    if (unavailable.sqlite) {
      for (const processes of counts)
        out.processes.push({ processes, status: 'unavailable', reason: unavailable.sqlite });
      return out;
    }
    // Rounds over every process count, so a change in the disk's fsync latency during the run
    // (other jobs on the machine) weighs on every count alike.
    /** @type {Map<number, any[]>} */
    const runs = new Map(counts.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (const processes of counts) {
        if (ctx.signal.aborted) return out;
        const t = now();
        const result = await sharedSqliteRun(
          ctx,
          pkgs,
          join(dir, `processes-${processes}.db`),
          processes,
        ).catch((error) => ({ processes, status: 'failed', reason: messageOf(error) }));
        runs.get(processes)?.push(result);
        log(
          `  store sqlite shared by ${processes} process${processes > 1 ? 'es' : ''} (round ${r + 1}/${rounds}): ${
            result.status === 'ok'
              ? `${result.cyclesPerSecond} cycles/s, p50 ${result.cycle.p50} ms p95 ${result.cycle.p95} ms`
              : `${result.status}: ${result.reason}`
          } [${round((now() - t) / 1000)} s]`,
        );
      }
    }
    for (const processes of counts) {
      out.processes.push({
        ...mergeRuns(processes, runs.get(processes) ?? []),
        loadavgAtEnd: loadavg().map(round),
      });
    }
  }
  return out;
}

/**
 * One result from the rounds of one process count: every cycle of every round, throughput over
 * the rounds' total time, and each round's throughput.
 *
 * @param {number} processes - the process count
 * @param {any[]} runs - what {@link sharedSqliteRun} returned, per round
 */
function mergeRuns(processes, runs) {
  const failed = runs.find((r) => r.status !== 'ok');
  if (failed) return failed;
  const samples = runs.flatMap((r) => r.samples);
  const durationMs = runs.reduce((sum, r) => sum + r.durationMs, 0);
  return {
    processes,
    status: 'ok',
    rounds: runs.length,
    durationMs,
    cycles: samples.length,
    cyclesPerSecond: round(samples.length / (durationMs / 1000)),
    roundCyclesPerSecond: runs.map((r) => r.cyclesPerSecond),
    perProcessCycles: runs[0].perProcessCycles.map((_, i) =>
      runs.reduce((sum, r) => sum + (r.perProcessCycles[i] ?? 0), 0),
    ),
    ...summarizeCycles(samples),
  };
}

/**
 * `processes` processes on one SQLite file, each cycling on its own volume for the same
 * window of time (see processWorker).
 *
 * @param {SectionContext} ctx - settings and hooks
 * @param {Awaited<ReturnType<typeof importStores>>} pkgs - the store packages
 * @param {string} path - the database file (made and migrated here first)
 * @param {number} processes - how many
 * @param {string} [variant] - a store variant (see SQLITE_VARIANTS in store-bench.mjs); default as it is
 */
export async function sharedSqliteRun(ctx, pkgs, path, processes, variant = 'as-is') {
  const { durationMs, warmupCycles, rotateEvery } = ctx.config.processes;
  await pkgs.sqlite.fn({ path }).close();
  const workers = [];
  try {
    for (let index = 0; index < processes; index++) {
      const { child, exited } = spawnCell(['--worker'], ctx, durationMs + 180_000, true);
      const messages = [];
      const waiters = [];
      child.on('message', (message) => {
        messages.push(message);
        for (const w of waiters.splice(0)) w();
      });
      /** Resolves with the next message of `type` (or a failure, or the exit). */
      const next = async (type) => {
        for (;;) {
          const found = messages.find((m) => m.type === type || m.type === 'failed');
          if (found) {
            if (found.type === 'failed') throw new Error(`process ${index}: ${found.reason}`);
            return found;
          }
          const code = await Promise.race([new Promise((r) => waiters.push(() => r(null))), exited]);
          if (code !== null && !messages.some((m) => m.type === type || m.type === 'failed'))
            throw new Error(`process ${index} exited with ${code} before "${type}"`);
        }
      };
      child.send({
        type: 'job',
        job: { index, processes, path, warmup: warmupCycles, rotateEvery, variant },
      });
      workers.push({ child, exited, next });
    }
    for (const w of workers) await w.next('ready');
    // Every process starts at the same wall-clock instant, a little after the last is ready.
    const startAt = Date.now() + 100;
    const endAt = startAt + durationMs;
    for (const w of workers) w.child.send({ type: 'go', startAt, endAt });
    const done = [];
    for (const w of workers) done.push(await w.next('done'));
    const perProcess = done.map((d) => d.samples.length);
    const samples = done.flatMap((d) =>
      d.samples.map(([attach, commit, store, durable]) => ({ attach, commit, store, durable })),
    );
    const total = samples.length;
    return {
      processes,
      ...(variant === 'as-is' ? {} : { variant }),
      status: 'ok',
      durationMs,
      cycles: total,
      cyclesPerSecond: round(total / (durationMs / 1000)),
      perProcessCycles: perProcess,
      ...summarizeCycles(samples),
      samples,
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
    for (let index = 0; index < processes; index++)
      for (const suffix of ['', '-wal', '-shm']) await rm(`${path}-p${index}${suffix}`, { force: true });
  }
}
