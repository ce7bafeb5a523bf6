import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VolumeKey } from '../model/state.js';

/**
 * How child processes open the store under test: an ES module that exports
 * `openStore(config)`, returning the store (or a promise of it), and the JSON config that opens
 * the same store as the test's own client.
 */
export interface StoreWorker {
  /** The module: an absolute path or a `file:` URL. It must run in plain Node (built JavaScript). */
  module: string;
  /**
   * Passed to `openStore` in the stalled-writer tests; use short lock and busy timeouts, so
   * the other writers give up quickly while one stalls.
   */
  config: unknown;
  /**
   * Passed to `openStore` in the tests where every write must succeed (concurrent writers in
   * several processes): use generous lock and busy timeouts there, because they bound how long
   * a writer waits for another process's transaction, which a loaded machine stretches (a
   * process holding a lock may not be scheduled for a while). Defaults to `config`.
   */
  patientConfig?: unknown;
}

/** A task for one worker process. */
export interface WorkerTask {
  /** `increment`: add one to the volume's hit counter `count` times. */
  task: 'increment';
  /** The volume. */
  key: VolumeKey;
  /** How many increments. */
  count: number;
  /** Spread the increments over this many ms (so they happen during another writer's stall). */
  spreadMs?: number;
}

/** What a worker reports. */
export interface WorkerResult {
  /** Increments the store acknowledged. */
  ok: number;
  /** Messages of the increments that failed. */
  errors: string[];
}

// The worker: plain JavaScript run with `node --input-type=module -e`, so it needs no build.
const WORKER_SOURCE = `
import { existsSync, writeSync } from 'node:fs';
const job = JSON.parse(process.env.CACHEVOL_STORE_WORKER);
const { openStore } = await import(job.module);
const store = await openStore(job.config);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pause = new Int32Array(new SharedArrayBuffer(4));
if (job.startFile) {
  // Wait for the other workers to open the store, so that their transactions overlap.
  writeSync(1, 'ready\\n');
  while (!existsSync(job.startFile)) Atomics.wait(pause, 0, 0, 1);
}
const increment = (slice) => {
  const hit = (slice.volume?.counts.hit ?? 0) + 1;
  const volume = slice.volume
    ? { ...slice.volume, counts: { ...slice.volume.counts, hit } }
    : { scope: slice.scope, name: slice.name, seq: 0, versions: {}, versionIds: [], counts: { hit, stale: 0, miss: 0 }, lastUsedAt: 1700000000000 };
  return { slice: { ...slice, volume }, result: hit };
};
const result = { ok: 0, errors: [] };
if (job.task === 'stall') {
  try {
    await store.transact(job.key, (slice) => {
      writeSync(1, 'inside\\n');
      while (!existsSync(job.goFile)) Atomics.wait(pause, 0, 0, 5);
      return increment(slice);
    });
    result.ok = 1;
  } catch (error) {
    result.errors.push(String(error?.message ?? error));
  }
} else {
  for (let i = 0; i < job.count; i++) {
    if (job.spreadMs) await sleep(job.spreadMs / job.count);
    try {
      await store.transact(job.key, increment);
      result.ok++;
    } catch (error) {
      result.errors.push(String(error?.message ?? error));
    }
  }
}
await store.close().catch(() => {});
writeSync(1, 'result ' + JSON.stringify(result) + '\\n');
`;

function start(worker: StoreWorker, job: Record<string, unknown>): ChildProcess {
  const module = isAbsolute(worker.module) ? pathToFileURL(worker.module).href : worker.module;
  return spawn(process.execPath, ['--input-type=module', '-e', WORKER_SOURCE], {
    env: { ...process.env, CACHEVOL_STORE_WORKER: JSON.stringify({ ...job, module, config: worker.config }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves `true` once the child printed `line`, or `false` when it ended before. */
function untilLine(child: ChildProcess, done: Promise<unknown>, line: string): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = '';
    child.stdout?.on('data', (d: Buffer) => {
      seen += d;
      if (seen.includes(`${line}\n`)) resolve(true);
    });
    done.then(
      () => resolve(false),
      () => resolve(false),
    );
  });
}

function parseResult(out: { code: number | null; stdout: string; stderr: string }): WorkerResult {
  const line = out.stdout.split('\n').find((l) => l.startsWith('result '));
  if (!line)
    throw new Error(`store worker exited ${out.code} without a result:\n${out.stdout}\n${out.stderr}`);
  return JSON.parse(line.slice('result '.length)) as WorkerResult;
}

/**
 * Runs each task in its own child process, all at once (each child opens the store, then
 * they all start their task together), and returns what each reported.
 *
 * @param worker - how the children open the store
 * @param tasks - one task per process
 * @param options - `patient`: open the store with `worker.patientConfig` (when given)
 */
export async function runStoreWorkers(
  worker: StoreWorker,
  tasks: readonly WorkerTask[],
  options: { patient?: boolean } = {},
): Promise<WorkerResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-workers-'));
  const startFile = join(dir, 'start');
  const opened =
    options.patient && worker.patientConfig !== undefined
      ? { ...worker, config: worker.patientConfig }
      : worker;
  try {
    const children = tasks.map((task) => start(opened, { ...task, startFile }));
    const outs = children.map(finished);
    // Start every task at once, when every child has opened the store: a fast store would
    // otherwise finish one child's work before the next child has even started.
    await Promise.all(children.map((child, i) => untilLine(child, outs[i] as Promise<unknown>, 'ready')));
    writeFileSync(startFile, '');
    return (await Promise.all(outs)).map(parseResult);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A child process held inside a transaction; see {@link startStalledWriter}. */
export interface StalledWriter {
  /** Lets the transaction go on and returns what the child reported. */
  release(): Promise<WorkerResult>;
  /** Kills the child (SIGKILL) inside its transaction. */
  kill(): Promise<void>;
}

/**
 * Starts a child that begins a transaction incrementing the volume's counter and stalls inside
 * it (its JavaScript blocked, as a paused process) until released or killed. Resolves once the
 * child is inside the transaction.
 *
 * @param worker - how the child opens the store
 * @param key - the volume
 */
export async function startStalledWriter(worker: StoreWorker, key: VolumeKey): Promise<StalledWriter> {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-stall-'));
  const goFile = join(dir, 'go');
  const child = start(worker, { task: 'stall', key, goFile });
  const done = finished(child);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  if (!(await untilLine(child, done, 'inside'))) {
    cleanup();
    const out = await done;
    throw new Error(`stalled writer exited before its transaction:\n${out.stdout}\n${out.stderr}`);
  }
  return {
    async release() {
      writeFileSync(goFile, '');
      try {
        return parseResult(await done);
      } finally {
        cleanup();
      }
    },
    async kill() {
      child.kill('SIGKILL');
      await done;
      cleanup();
    },
  };
}
