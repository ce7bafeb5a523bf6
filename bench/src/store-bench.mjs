/**
 * The store benchmarks' measurements, each run in a child process of its own (see
 * store-cell.mjs): attach + commit through `CacheVolumes` on the memory backend, so that only
 * the engine and the store are timed.
 *
 * - {@link scalingCells}: stores holding 10, 5,000, 50,000 volumes; cycles round-robin over the
 *   same 10 measured volumes in each, so the measured volumes' own slices are the same in every
 *   store and only the rest of the store differs.
 * - {@link processWorker}: one of several processes sharing one SQLite file, each cycling on
 *   its own volume for a fixed time.
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, statSync } from 'node:fs';
import { createMemoryBackend } from '@cachevol/backend-memory';
import { CacheVolumes } from '@cachevol/core';
import { timedStore } from './instrument.mjs';
import { fillerMaker, HOST, idMaker, makeRealVolume, measuredName, SCOPE, seedFillers } from './seed.mjs';
import { importStores, openStore } from './stores.mjs';
import { now, round, sleep, summarize } from './util.mjs';

/**
 * @typedef {object} CycleSample
 * @property {number} attach - ms in `attach()`
 * @property {number} commit - ms in `commit()`
 * @property {number} store - ms of the cycle spent in store calls
 * @property {number} durable - ms of those in transactions with `durable: true` (the commit's
 *   outcome: an fsync in SQLite, a synchronous commit in PostgreSQL)
 */

/**
 * One attach + commit on `name`: attach a fork of its head, write one small file, commit.
 *
 * @param {CacheVolumes} engine - the engine (its store timed into `parts`)
 * @param {import('@cachevol/backend-memory').MemoryBackend} backend - its memory backend
 * @param {Record<string, number>} parts - the engine's store timings (cleared here)
 * @param {string} name - the volume
 * @param {number} i - cycle number (the job's name, the file's contents)
 * @returns {Promise<CycleSample>}
 */
async function cycle(engine, backend, parts, name, i) {
  for (const key of Object.keys(parts)) delete parts[key];
  const t0 = now();
  const fork = await engine.attach(name, { scope: SCOPE, job: `job-${i}`, size: '20g' });
  const t1 = now();
  backend.files(fork.id).write('node_modules/.bench-stamp', `${i}\n`);
  const t2 = now();
  await fork.commit();
  const t3 = now();
  const store = Object.entries(parts)
    .filter(([key]) => key.startsWith('store.'))
    .reduce((sum, [, ms]) => sum + ms, 0);
  return { attach: t1 - t0, commit: t3 - t2, store, durable: parts['store.transact(durable)'] ?? 0 };
}

/**
 * Summaries of cycle samples: the whole cycle (attach + commit), each op, the store's part, and
 * the durable transaction's.
 *
 * @param {CycleSample[]} samples - the timed cycles
 */
export function summarizeCycles(samples) {
  return {
    cycle: summarize(samples.map((s) => s.attach + s.commit)),
    attach: summarize(samples.map((s) => s.attach)),
    commit: summarize(samples.map((s) => s.commit)),
    store: summarize(samples.map((s) => s.store)),
    durableTransact: summarize(samples.map((s) => s.durable)),
  };
}

/**
 * @typedef {object} ScalingJob
 * @property {'memory' | 'sqlite' | 'postgres'} kind - the store
 * @property {number[]} sizes - how many volumes each of the stores holds while measured
 * @property {number} measured - how many volumes the cycles go round (the same in every store)
 * @property {number} warmup - untimed cycles per store first
 * @property {number} cycles - timed cycles per store
 * @property {number} rounds - the timed cycles are run in this many rounds (see scalingCell)
 * @property {import('./stores.mjs').StoreEnvironment} storeEnv - where stores go
 */

/**
 * One store of the scaling measurement, filled: its engine, backend and timings.
 *
 * @typedef {object} FilledStore
 * @property {number} volumes - how many volumes it holds
 * @property {import('./stores.mjs').OpenedStore} opened - the store
 * @property {CacheVolumes} engine - an engine on it (its store calls timed into `parts`)
 * @property {import('@cachevol/backend-memory').MemoryBackend} backend - the engine's backend
 * @property {Record<string, number>} parts - store timings of the current cycle
 * @property {object} seed - how the filling went
 * @property {CycleSample[]} samples - the timed cycles
 * @property {number[]} roundP50s - the cycle p50 of each round
 */

/**
 * Makes a fresh store holding `volumes` volumes: the measured ones through the engine, the rest
 * written as slices shaped like them (see seed.mjs); then lets it settle and reopens it.
 *
 * @param {ScalingJob} job - the kind and the environment
 * @param {Awaited<ReturnType<typeof importStores>>} pkgs - store packages
 * @param {number} volumes - how many
 * @param {(message: string) => void} log - progress messages
 * @returns {Promise<FilledStore>}
 */
async function fillStore(job, pkgs, volumes, log) {
  const { kind } = job;
  const measured = Math.min(job.measured, volumes);
  const opened = await openStore(kind, job.storeEnv, pkgs, `scaling-${kind}-${volumes}`);
  try {
    const backend = createMemoryBackend();
    let t = now();
    // The same ids in every store, so the measured volumes' records are the same size everywhere.
    const newId = idMaker('store-bench/measured');
    let template = null;
    for (let i = 0; i < measured; i++) {
      const slice = await makeRealVolume({ store: opened.store, backend, name: measuredName(i), newId });
      template ??= slice;
    }
    const realMs = now() - t;
    t = now();
    // PostgreSQL runs transactions side by side (its pool has 10 connections); the others run
    // them one at a time whatever is in flight.
    const concurrency = kind === 'postgres' ? 10 : 1;
    const fillers = volumes - measured;
    await seedFillers(opened.store, fillerMaker(template, 'store-bench/fillers'), fillers, concurrency);
    const fillMs = now() - t;
    if (fillers > 0)
      log(
        `${kind}: ${fillers} fillers in ${round(fillMs / 1000)} s (${Math.round(fillers / (fillMs / 1000))}/s)`,
      );
    await opened.settle();
    const store = await opened.reopen();
    const parts = {};
    const engine = new CacheVolumes({
      backend,
      store: timedStore(store, parts),
      host: HOST,
      newId: idMaker('store-bench/cycles'),
    });
    return {
      volumes,
      opened,
      engine,
      backend,
      parts,
      seed: {
        realVolumesMs: round(realMs),
        fillers,
        fillersMs: round(fillMs),
        fillersPerSecond: fillers > 0 ? round(fillers / (fillMs / 1000)) : null,
        concurrency,
      },
      samples: [],
      roundP50s: [],
    };
  } catch (error) {
    await opened.dispose().catch(() => undefined);
    throw error;
  }
}

/**
 * Fills one fresh store per size (see {@link fillStore}), then times attach + commit cycles
 * round-robin over each store's measured volumes. The stores are measured side by side, not
 * one after the other: `rounds` rounds, each running `cycles / rounds` cycles on every store
 * (in an order that rotates from round to round), so that a change in the machine's load or
 * its disk's fsync latency during the run weighs on every size alike.
 *
 * @param {ScalingJob} job - what to measure
 * @param {(message: string) => void} log - progress messages
 * @returns {Promise<object[]>} one result per size
 */
export async function scalingCells(job, log) {
  const { kind, sizes, warmup, cycles, rounds } = job;
  const pkgs = await importStores();
  /** @type {FilledStore[]} */
  const stores = [];
  try {
    for (const volumes of sizes) stores.push(await fillStore(job, pkgs, volumes, log));
    const measuredOf = (s) => Math.min(job.measured, s.volumes);
    let i = 0;
    for (const s of stores)
      for (let w = 0; w < warmup; w++, i++)
        await cycle(s.engine, s.backend, s.parts, measuredName(w % measuredOf(s)), i);
    const perRound = Math.ceil(cycles / rounds);
    const started = now();
    for (let r = 0; r < rounds; r++) {
      const order = stores.map((_, k) => stores[(k + r) % stores.length]);
      for (const s of order) {
        const first = s.samples.length;
        for (let c = 0; c < perRound && s.samples.length < cycles; c++, i++) {
          const n = s.samples.length;
          s.samples.push(await cycle(s.engine, s.backend, s.parts, measuredName(n % measuredOf(s)), i));
        }
        s.roundP50s.push(round(summarizeCycles(s.samples.slice(first)).cycle.p50));
      }
    }
    const runMs = now() - started;
    const out = [];
    for (const s of stores) {
      const last = await s.opened.store.read({ scope: SCOPE, name: measuredName(0) });
      out.push({
        kind,
        volumes: s.volumes,
        status: 'ok',
        measuredVolumes: measuredOf(s),
        seed: s.seed,
        warmup,
        cycles: s.samples.length,
        rounds,
        runMs: round(runMs),
        versionsPerMeasuredVolumeAtEnd: Object.keys(last.volume?.versions ?? {}).length,
        sizeBytes: await s.opened.size(),
        ...summarizeCycles(s.samples),
        roundP50s: s.roundP50s,
        samplesMs: s.samples.map((x) => round(x.attach + x.commit)),
      });
    }
    return out;
  } finally {
    for (const s of stores) await s.opened.dispose().catch(() => undefined);
  }
}

/**
 * @typedef {object} ProcessJob
 * @property {number} index - this process's number (its volume is `p<index>-<generation>`)
 * @property {number} processes - how many processes share the file
 * @property {string} path - the shared SQLite file
 * @property {number} warmup - untimed cycles before the start signal
 * @property {number} rotateEvery - cycles per volume before moving to a fresh one (see below)
 * @property {keyof typeof SQLITE_VARIANTS} [variant] - the store as it is (default), or a variant
 *   that sqlite-variants.mjs measures to find out where the time goes
 */

/**
 * Ways of running the SQLite store that differ from what it does, to measure what its time is
 * spent on under contention (used by sqlite-variants.mjs only; the benchmark runs `as-is`).
 *
 * - `no-fsync`: every transaction with `durable: false`, so no commit waits for an fsync.
 * - `poll-1ms`: `busyTimeoutMs: 1`, and a busy transaction is retried after 0-1 ms (jittered)
 *   until 10 s have passed, instead of SQLite's busy handler, which sleeps 1, 2, 5, 10, 15,
 *   20, 25, 25, 25, 50, 50, 100, 100 ... ms between attempts and so misses a lock released
 *   in between. A retry is safe here: `BEGIN IMMEDIATE` failed, so nothing ran.
 * - `poll-1ms+no-fsync`: both.
 * - `fsync-after-unlock`: a durable transaction commits with `synchronous=NORMAL` (no fsync
 *   while it holds the write lock) and then, before returning, fdatasyncs the `-wal` file, which
 *   holds its commit: as durable when it returns, but the fsync no longer holds the lock, and
 *   processes that fsync at the same time share the flush (a group commit). Sound because the
 *   WAL is a log read back up to its last valid commit, and a checkpoint that moves frames into
 *   the database first syncs the WAL and then the database.
 * - `poll-1ms+fsync-after-unlock`: both changes.
 * - `own-file`: the store as it is, but every process on a database file of its own: no lock is
 *   shared, while the processes still share the CPUs and the disk (a control: what the machine
 *   alone costs at that process count).
 */
export const SQLITE_VARIANTS = {
  'as-is': { busyTimeoutMs: undefined, durable: true, poll: false, syncAfter: false },
  'no-fsync': { busyTimeoutMs: undefined, durable: false, poll: false, syncAfter: false },
  'poll-1ms': { busyTimeoutMs: 1, durable: true, poll: true, syncAfter: false },
  'poll-1ms+no-fsync': { busyTimeoutMs: 1, durable: false, poll: true, syncAfter: false },
  'fsync-after-unlock': { busyTimeoutMs: undefined, durable: false, poll: false, syncAfter: true },
  'poll-1ms+fsync-after-unlock': { busyTimeoutMs: 1, durable: false, poll: true, syncAfter: true },
  'own-file': { busyTimeoutMs: undefined, durable: true, poll: false, syncAfter: false, ownFile: true },
};

/**
 * Wraps a SQLite store per {@link SQLITE_VARIANTS}.
 *
 * @param {import('@cachevol/core').Store} store - the store
 * @param {(typeof SQLITE_VARIANTS)[keyof typeof SQLITE_VARIANTS]} variant - what to change
 * @param {string} path - the database file
 * @returns {import('@cachevol/core').Store}
 */
function sqliteVariant(store, variant, path) {
  if (variant.durable && !variant.poll && !variant.syncAfter) return store;
  /** @type {number | null} */
  let walFd = null;
  const syncWal = () => {
    // The -wal file outlives every transaction while a connection is open; reopen it if it
    // was replaced all the same.
    if (walFd !== null && fstatSync(walFd).ino !== statSync(`${path}-wal`).ino) {
      closeSync(walFd);
      walFd = null;
    }
    walFd ??= openSync(`${path}-wal`, 'r');
    fdatasyncSync(walFd);
  };
  const busy = (error) => error?.details?.sqliteCode?.startsWith('SQLITE_BUSY');
  const retrying = async (work) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!variant.poll || !busy(error) || Date.now() > deadline) throw error;
        // better-sqlite3 is synchronous: block like its own busy handler does, but briefly.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.random());
      }
    }
  };
  return {
    ...store,
    name: store.name,
    read: (key) => retrying(() => store.read(key)),
    transact: async (key, fn, options = {}) => {
      const result = await retrying(() =>
        store.transact(key, fn, variant.durable ? options : { ...options, durable: false }),
      );
      if (variant.syncAfter && options.durable) syncWal();
      return result;
    },
    findFork: (id) => retrying(() => store.findFork(id)),
    listVolumes: (options) => store.listVolumes(options),
    claimDue: (query, fn) => store.claimDue(query, fn),
    pruneForks: (before) => store.pruneForks(before),
    close: async () => {
      if (walFd !== null) closeSync(walFd);
      await store.close();
    },
  };
}

/**
 * One of the processes sharing a SQLite file: makes its volume, runs `warmup` cycles, reports
 * `ready`, waits for `{ startAt, endAt }` (wall-clock ms, the same for every process), cycles
 * from `startAt` until `endAt`, and reports every cycle that finished in that window.
 *
 * Each process moves to a fresh volume every `rotateEvery` cycles (its first attach there is a
 * miss): without retention a volume gains a version per cycle, and a process that runs more
 * cycles would carry a larger slice into every transaction; `gc()` would bound it, but it
 * walks every volume and removes versions of the other processes' volumes too, whose data
 * lives in their own memory backends. With rotation every process's slices hold 1 to
 * `rotateEvery` versions whatever the process count.
 *
 * @param {ProcessJob} job - what to do
 * @param {(message: object) => void} send - reports to the orchestrator
 * @param {() => Promise<{ startAt: number, endAt: number }>} go - resolves with the window
 */
export async function processWorker(job, send, go) {
  const pkgs = await importStores();
  if (pkgs.sqlite.reason) throw new Error(pkgs.sqlite.reason);
  const variant = SQLITE_VARIANTS[job.variant ?? 'as-is'];
  if (!variant) throw new Error(`unknown variant ${job.variant}`);
  const path = variant.ownFile ? `${job.path}-p${job.index}` : job.path;
  const store = sqliteVariant(
    pkgs.sqlite.fn({ path, ...(variant.busyTimeoutMs ? { busyTimeoutMs: variant.busyTimeoutMs } : {}) }),
    variant,
    path,
  );
  const backend = createMemoryBackend();
  const parts = {};
  const engine = new CacheVolumes({
    backend,
    store: timedStore(store, parts),
    host: `host-${job.index}`,
    newId: idMaker(`store-bench/process-${job.processes}-${job.index}`),
  });
  const volumeOf = (i) => `p${job.index}-${String(Math.floor(i / job.rotateEvery)).padStart(4, '0')}`;
  let i = 0;
  for (; i < job.warmup; i++) await cycle(engine, backend, parts, volumeOf(i), i);
  send({ type: 'ready' });
  const { startAt, endAt } = await go();
  await sleep(Math.max(0, startAt - Date.now()));
  const samples = [];
  let started = 0;
  while (Date.now() < endAt) {
    started++;
    const sample = await cycle(engine, backend, parts, volumeOf(i), i);
    i++;
    if (Date.now() <= endAt) samples.push(sample);
  }
  await store.close();
  send({
    type: 'done',
    started,
    samples: samples.map((s) => [round(s.attach), round(s.commit), round(s.store), round(s.durable)]),
  });
}
