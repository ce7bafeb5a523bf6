#!/usr/bin/env node
/**
 * cachevol benchmark. `npm run bench` (full) or `npm run bench -- --quick` from the repository
 * root; see docs/benchmarks.md. Generates deterministic trees, measures attach and commit
 * through the SDK on every backend this machine can run, the raw snapshot/clone commands,
 * `cp -a` and tar+zstd, the core alone, and the stores (attach + commit with 10 to 50,000
 * volumes in the memory, SQLite and PostgreSQL stores; SQLite shared by 1 to 8 processes);
 * the bytes and time of sending a version changed by 1%, 5% and 25% with its parent as the base
 * against sending it whole (send-delta.mjs, btrfs and dir); attach on a host without the head
 * (stale, pull from a peer, restore from an s3rver bucket) against a tar+zstd restore from the
 * same bucket (fleet-attach.mjs, two more loop btrfs filesystems); prints tables and writes bench/results/latest.json. Sets up (and always tears down) its own loop-mounted btrfs and
 * a ZFS pool on sparse files. Installs nothing: a missing tool makes the subjects that need it
 * "unavailable" with the reason.
 *
 * Options:
 *   --quick          small trees and few iterations (well under two minutes)
 *   --sizes LIST     sweep sizes, e.g. `10m,100m,1g,5g` (default: full 10m,100m,1g,5g; quick 2m,20m);
 *                    `none` runs only the node_modules tree
 *   --only LIST      subject ids to run (e.g. `btrfs,raw-btrfs-quota,tar-extract`), and of the store
 *                    section's parts (`store-scaling`, `store-processes`, or `stores` for both);
 *                    core always runs
 *   --no-core        skip the core benchmarks
 *   --no-stores      skip the store section
 *   --store-sizes LIST  volumes in the store for the scaling part (default: full 10,5000,50000;
 *                    quick 10,2000)
 *   --no-startup     skip the start-up of the `cachevol` command (startup-bench.mjs; needs the CLI built)
 *   --tmp DIR        where to put trees, loop files and pools (default: the OS temp directory)
 *   --out FILE       results file (default: bench/results/latest.json)
 *   --strict         exit 1 when a subject is unavailable, not only when one failed (CI uses it)
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildSubjects, importPackages } from './catalog.mjs';
import { benchEngine, benchSelection } from './core-bench.mjs';
import { createLoopBtrfs } from './loop-btrfs.mjs';
import { createZfsPool, ensureZfsService } from './loop-zfs.mjs';
import { computeRatios, computeTargets, renderReport } from './report.mjs';
import { cleanStaleRuns } from './stale.mjs';
import { benchStartup } from './startup-bench.mjs';
import { runStoreSection, STORE_SECTION_IDS, storeConfig } from './store-section.mjs';
import { findTools, isRoot, kernelZfs, missingTools } from './tools.mjs';
import { BYTES_PER_FILE, describePlan, planTree, writeTree } from './tree.mjs';
import { formatBytes, formatMs, messageOf, now, round, run } from './util.mjs';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    only: { type: 'string' },
    'no-core': { type: 'boolean', default: false },
    'no-stores': { type: 'boolean', default: false },
    'store-sizes': { type: 'string' },
    'no-startup': { type: 'boolean', default: false },
    tmp: { type: 'string' },
    out: { type: 'string' },
    strict: { type: 'boolean', default: false },
  },
});
const quick = argv.quick;

/**
 * Parses `10m`, `1g`, `512k` into bytes.
 *
 * @param {string} text - a size
 */
function parseSizeArg(text) {
  const match = /^(\d+(?:\.\d+)?)([kmg])$/i.exec(text.trim());
  if (!match) throw new Error(`--sizes: "${text}" is not a size like 10m or 1g`);
  return Math.round(Number(match[1]) * { k: 1024, m: MiB, g: GiB }[match[2].toLowerCase()]);
}

const sizeLabel = (bytes) => formatBytes(bytes).replace(' ', '');

const CONFIG = quick
  ? {
      nodeModules: { bytes: 25 * MiB, files: 1400 },
      sweep: [2 * MiB, 20 * MiB],
      iterations: {
        'node-modules': { min: 2, max: 4, budgetMs: 1500 },
        sweep: { min: 2, max: 3, budgetMs: 800 },
      },
    }
  : {
      nodeModules: { bytes: 500 * MiB, files: 28_000 },
      sweep: [10 * MiB, 100 * MiB, GiB, 5 * GiB],
      iterations: {
        'node-modules': { min: 5, max: 30, budgetMs: 60_000 },
        sweep: { min: 3, max: 20, budgetMs: 45_000 },
      },
    };
if (argv.sizes) CONFIG.sweep = argv.sizes === 'none' ? [] : argv.sizes.split(',').map(parseSizeArg);
/** Trees with more files are not loaded into the memory backend (see memorySubject). */
const MEMORY_MAX_FILES = 30_000;

const log = (...parts) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...parts);

/** Teardown steps, run last-in first-out however the run ends. */
const teardown = [];
async function runTeardown() {
  while (teardown.length > 0) {
    const step = teardown.pop();
    try {
      await step.fn();
    } catch (error) {
      log(`teardown: ${step.name} failed: ${messageOf(error)}`);
    }
  }
}

/** Set by SIGINT/SIGTERM: the run stops after the current step and tears down. */
const signal = { aborted: false };
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/**
 * Lets a stop signal reach a child process while it runs.
 *
 * @param {import('node:child_process').ChildProcess} child - a cell's process
 */
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
};
for (const name of ['SIGINT', 'SIGTERM']) {
  process.on(name, () => {
    if (signal.aborted) return;
    signal.aborted = true;
    log(`${name}: stopping after the current step, then tearing down`);
    for (const child of children) child.kill('SIGINT');
  });
}
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

/**
 * Measures one subject on one tree in a fresh child process (see cell.mjs for why).
 *
 * @param {object} job - what cell.mjs reads: env, subject, tree, policy
 * @param {string} jobsDir - where to put the job and result files
 */
async function measureInChild(job, jobsDir) {
  const base = join(jobsDir, `cell-${job.subject}-${job.tree.id}`);
  const out = `${base}.result.json`;
  await writeFile(`${base}.json`, JSON.stringify({ ...job, out }));
  const child = spawn(process.execPath, [join(BENCH_DIR, 'src', 'cell.mjs'), `${base}.json`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  track(child);
  const code = await new Promise((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (c, s) => resolve(c ?? s));
  });
  try {
    return JSON.parse(await readFile(out, 'utf8'));
  } catch {
    return {
      subject: job.subject,
      tree: job.tree.id,
      status: 'failed',
      reason: `cell process exited with ${code}`,
    };
  }
}

async function main() {
  const startedAt = new Date();
  const tmpBase = resolve(argv.tmp ?? tmpdir());
  const outFile = resolve(argv.out ?? join(BENCH_DIR, 'results', 'latest.json'));
  const only = argv.only ? new Set(argv.only.split(',').map((s) => s.trim())) : null;
  if (only?.has('stores')) for (const id of STORE_SECTION_IDS) only.add(id);
  const storeParts = new Set(
    argv['no-stores'] ? [] : STORE_SECTION_IDS.filter((id) => !only || only.has(id)),
  );
  const storeSizes = argv['store-sizes']?.split(',').map((text) => {
    const n = Number(text.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--store-sizes: "${text}" is not a volume count`);
    return n;
  });

  const results = {
    schema: 1,
    mode: quick ? 'quick' : 'full',
    note: quick
      ? `trees are ~1/20 of the full run (node_modules-like ${formatBytes(CONFIG.nodeModules.bytes)} / ${CONFIG.nodeModules.files} files; sweep ${CONFIG.sweep.map(sizeLabel).join(', ')}) with 2-5 iterations: a smoke test, not figures to quote`
      : `full run: node_modules-like ${formatBytes(CONFIG.nodeModules.bytes)} / ${CONFIG.nodeModules.files} files; sweep ${CONFIG.sweep.map(sizeLabel).join(', ')}`,
    startedAt: startedAt.toISOString(),
    finishedAt: null,
    durationS: null,
    command: process.argv.slice(2),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
      memBytes: totalmem(),
      freeMemBytesAtStart: freemem(),
      kernel: release(),
      node: process.version,
      loadavgStart: loadavg().map((x) => round(x)),
      loadavgEnd: null,
      tmpBase,
    },
    tools: await findTools(),
    environment: {},
    config: CONFIG,
    trees: [],
    subjects: [],
    cells: [],
    core: null,
    stores: null,
    startup: null,
    ratios: null,
    targets: null,
  };

  const fs = await statfs(tmpBase);
  const freeBytes = fs.bavail * fs.bsize;
  results.machine.tmpFreeBytesAtStart = freeBytes;
  // One tree exists at a time; its copies live in the source, the archive, a restore, the dir
  // backend (version + fork) and the sparse images: about 6× the largest tree, plus slack.
  const fits = (bytes) => bytes * 6 + 2 * GiB <= freeBytes;
  const dropped = CONFIG.sweep.filter((b) => !fits(b));
  if (dropped.length > 0) {
    results.environment.droppedSizes = dropped.map(sizeLabel);
    log(
      `not enough room in ${tmpBase} (${formatBytes(freeBytes)} free) for ${dropped.map(sizeLabel).join(', ')}: dropped`,
    );
    CONFIG.sweep = CONFIG.sweep.filter(fits);
  }
  const largest = Math.max(CONFIG.nodeModules.bytes, ...CONFIG.sweep);
  const imageBytes = Math.max(2 * GiB, 3 * largest + 2 * GiB);

  await cleanStaleRuns(tmpBase, log);
  const work = await mkdtemp(join(tmpBase, `cachevol-bench-${process.pid}-`));
  teardown.push({ name: `remove ${work}`, fn: () => rm(work, { recursive: true, force: true }) });
  const dirs = {};
  for (const name of ['trees', 'scratch', 'jobs', 'cells', 'state', 'dir', 'loops']) {
    dirs[name] = join(work, name);
    await mkdir(dirs[name], { recursive: true });
  }
  log(`${results.mode} run in ${work}; results go to ${outFile}`);

  // ---- core -------------------------------------------------------------------------------
  if (!argv['no-core']) {
    log('core: parent selection');
    const selection = await benchSelection({ quick });
    log('core: engine cycles');
    const engine = await benchEngine({ quick });
    results.core = { selection, engine };
  }

  // ---- stores -----------------------------------------------------------------------------
  if (storeParts.size > 0) {
    log(`stores: ${[...storeParts].join(', ')}`);
    results.stores = await runStoreSection({
      config: storeConfig(quick, { sizes: storeSizes }),
      parts: storeParts,
      tmpBase,
      work,
      log,
      signal,
      track,
      teardown,
    });
  }
  if (signal.aborted) throw new Error('interrupted');
  // ---- start-up of the cachevol command (whole processes, before any tree is written) --------
  if (!argv['no-startup']) {
    log('start-up: cachevol --help, --version and run on the dir backend, side by side with node -e 0');
    try {
      results.startup = await benchStartup({
        runs: quick ? 10 : 30,
        warmup: quick ? 2 : 5,
        hyperfine: !quick,
        tmp: work,
      });
      for (const a of results.startup.aims)
        log(`  ${a.label}: ${a.ratio}× node -e 0 (aim ≤ ${a.max}×)${a.met ? '' : ': missed'}`);
    } catch (error) {
      results.startup = { status: 'failed', reason: messageOf(error) };
      log(`  start-up: failed: ${results.startup.reason}`);
    }
  }

  // ---- environment: packages, loop filesystems, pool ------------------------------------
  const tools = results.tools;
  const pkgs = await importPackages();
  results.environment.packages = Object.fromEntries(
    Object.entries(pkgs).map(([k, v]) => [k, v.reason ?? 'ok']),
  );

  const wanted = (ids) => !only || ids.some((id) => only.has(id));
  /** @type {import('./catalog.mjs').Environment} */
  const env = {
    dirs: { jobs: dirs.jobs, state: dirs.state, dir: dirs.dir, scratch: dirs.scratch },
    btrfs: null,
    fleet: null,
    fleetReason: null,
    btrfsReason: !isRoot()
      ? 'needs root (loop devices, mounts)'
      : missingTools(tools, ['btrfs', 'mkfs.btrfs', 'losetup', 'mount', 'umount', 'cp']),
    zfs: null,
    zfsReason: !isRoot() ? 'needs root (pools)' : missingTools(tools, ['zfs', 'zpool', 'cp']),
    tools,
    memoryMaxFiles: MEMORY_MAX_FILES,
  };
  if (
    !env.btrfsReason &&
    wanted([
      'btrfs',
      'btrfs-noquota',
      'raw-btrfs',
      'raw-btrfs-quota',
      'dir-reflink',
      'copy-reflink',
      'send-btrfs',
    ])
  ) {
    try {
      const mounts = {};
      for (const kind of ['noQuota', 'quota']) {
        const dir = join(dirs.loops, `btrfs-${kind}`);
        await mkdir(dir);
        const loop = await createLoopBtrfs(dir, imageBytes);
        teardown.push({ name: `btrfs loop ${loop.mountPoint}`, fn: () => loop.destroy() });
        mounts[kind] = loop.mountPoint;
      }
      await run('btrfs', ['quota', 'enable', mounts.quota]);
      await run('btrfs', ['quota', 'rescan', '-w', mounts.quota]);
      env.btrfs = { noQuota: mounts.noQuota, quota: mounts.quota };
      results.environment.btrfs = { status: 'ok', imageBytes, mounts };
    } catch (error) {
      env.btrfsReason = `loop btrfs set-up failed: ${messageOf(error)}`;
    }
  } else if (!env.btrfsReason) env.btrfsReason = 'not selected (--only)';
  if (env.btrfsReason) results.environment.btrfs = { status: 'unavailable', reason: env.btrfsReason };

  // Two more loop filesystems, one per host, for the two-host subject (fleet-attach.mjs).
  env.fleet = null;
  env.fleetReason = !isRoot()
    ? 'needs root (loop devices, mounts)'
    : missingTools(tools, ['btrfs', 'mkfs.btrfs', 'losetup', 'mount', 'umount']);
  if (!env.fleetReason && wanted(['fleet-attach'])) {
    try {
      const mounts = {};
      for (const host of ['a', 'b']) {
        const dir = join(dirs.loops, `fleet-${host}`);
        await mkdir(dir);
        const loop = await createLoopBtrfs(dir, imageBytes);
        teardown.push({ name: `btrfs loop ${loop.mountPoint}`, fn: () => loop.destroy() });
        mounts[host] = loop.mountPoint;
      }
      env.fleet = { a: mounts.a, b: mounts.b };
      results.environment.fleet = { status: 'ok', imageBytes, mounts };
    } catch (error) {
      env.fleetReason = `loop btrfs set-up for the two hosts failed: ${messageOf(error)}`;
    }
  } else if (!env.fleetReason) env.fleetReason = 'not selected (--only)';
  if (env.fleetReason) results.environment.fleet = { status: 'unavailable', reason: env.fleetReason };

  if (!env.zfsReason && wanted(['zfs', 'raw-zfs', 'raw-zfs-quota'])) {
    try {
      const service = await ensureZfsService();
      if (service.startedPid !== null) {
        log(`started zfs-fuse (pid ${service.startedPid}); it is stopped at the end`);
        teardown.push({ name: 'stop zfs-fuse', fn: () => service.stop() });
      }
      results.environment.zfsFuseStartedByBench = service.startedPid !== null;
      const dir = join(dirs.loops, 'zfs');
      await mkdir(dir);
      const pool = await createZfsPool(dir, `cachevol-bench-${process.pid}`, imageBytes);
      teardown.push({ name: `zfs pool ${pool.pool}`, fn: () => pool.destroy() });
      env.zfs = { pool: pool.pool, mountPoint: pool.mountPoint, kernel: kernelZfs() };
      results.environment.zfs = {
        status: 'ok',
        implementation: kernelZfs() ? 'kernel (OpenZFS)' : 'zfs-fuse',
        pool: pool.pool,
        imageBytes,
      };
    } catch (error) {
      env.zfsReason = `ZFS set-up failed: ${messageOf(error)}`;
    }
  } else if (!env.zfsReason) env.zfsReason = 'not selected (--only)';
  if (env.zfsReason) results.environment.zfs = { status: 'unavailable', reason: env.zfsReason };

  // ---- subjects ---------------------------------------------------------------------------
  const subjects = buildSubjects(env, pkgs).filter((s) => !only || only.has(s.id));
  results.subjects = subjects.map((s) => ({
    id: s.id,
    label: s.label,
    kind: s.kind,
    ops: s.ops,
    unavailable: s.unavailable,
  }));
  for (const s of subjects) if (s.unavailable) log(`${s.id}: unavailable: ${s.unavailable}`);

  // ---- trees ------------------------------------------------------------------------------
  const treeSpecs = [
    {
      id: 'node-modules',
      label: `node_modules ${sizeLabel(CONFIG.nodeModules.bytes)}`,
      group: 'node-modules',
      ...CONFIG.nodeModules,
    },
    ...CONFIG.sweep.map((bytes) => ({
      id: `sweep-${sizeLabel(bytes)}`,
      label: sizeLabel(bytes),
      group: 'sweep',
      bytes,
      files: Math.max(20, Math.round(bytes / BYTES_PER_FILE)),
    })),
  ];
  const canTar = !missingTools(tools, ['tar', 'zstd']);
  // With --only naming no subject (e.g. `--only stores`), no tree is made.
  for (const spec of subjects.length > 0 ? treeSpecs : []) {
    if (signal.aborted) break;
    let plan = planTree({ name: spec.id, bytes: spec.bytes, files: spec.files });
    const dir = join(dirs.trees, spec.id);
    await mkdir(dir);
    log(`tree ${spec.label}: writing ${plan.files.length} files, ${formatBytes(plan.bytes)}`);
    let t = now();
    await writeTree(plan, dir);
    const generateMs = now() - t;
    const tree = {
      id: spec.id,
      label: spec.label,
      group: spec.group,
      bytes: spec.bytes,
      files: plan.files.length,
      dir,
      archive: join(dirs.trees, `${spec.id}.tar.zst`),
    };
    const record = {
      id: spec.id,
      label: spec.label,
      group: spec.group,
      ...describePlan(plan),
      generateMs: round(generateMs),
    };
    plan = null;
    if (canTar) {
      t = now();
      await run('tar', ['--zstd', '-cf', tree.archive, '-C', dir, 'node_modules']);
      const archiveBytes = statSync(tree.archive).size;
      record.archive = {
        bytes: archiveBytes,
        ratio: round(record.bytes / archiveBytes),
        createMs: round(now() - t),
      };
    }
    results.trees.push(record);
    await run('sync', []);
    const policy = CONFIG.iterations[spec.group];
    for (const subject of subjects) {
      if (signal.aborted) break;
      const base = { subject: subject.id, tree: tree.id };
      const skip = subject.unavailable ? null : subject.skip?.(tree);
      const t0 = now();
      const cell = subject.unavailable
        ? { ...base, status: 'unavailable', reason: subject.unavailable }
        : skip
          ? { ...base, status: 'skipped', reason: skip }
          : await measureInChild({ env, subject: subject.id, tree, policy }, dirs.cells);
      results.cells.push(cell);
      const summary = Object.entries(cell.ops ?? {})
        .map(([op, s]) => `${op} p50 ${formatMs(s.p50)} p95 ${formatMs(s.p95)} (n=${s.n})`)
        .join(', ');
      log(
        `  ${subject.id}: ${cell.status === 'ok' ? summary : `${cell.status}: ${cell.reason}`} [${formatMs(now() - t0)}]`,
      );
    }
    await rm(dir, { recursive: true, force: true });
    await rm(tree.archive, { force: true });
  }
  if (signal.aborted) throw new Error('interrupted');

  // ---- report -----------------------------------------------------------------------------
  results.ratios = computeRatios(results);
  results.targets = computeTargets(results);
  results.machine.loadavgEnd = loadavg().map((x) => round(x));
  results.finishedAt = new Date().toISOString();
  results.durationS = round((Date.now() - startedAt.getTime()) / 1000);
  const report = renderReport(results);
  console.log(report);
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(`${outFile}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  await rename(`${outFile}.tmp`, outFile);
  await writeFile(outFile.replace(/\.json$/, '.md'), `${report}\n`);
  log(`wrote ${outFile}`);

  // A slow figure is reported, never an error; a cell that could not run is.
  const isBroken = (c) => c.status === 'failed' || (argv.strict && c.status === 'unavailable');
  const broken = [
    ...results.cells.filter(isBroken).map((c) => `${c.subject} on ${c.tree}: ${c.status}: ${c.reason}`),
    ...(results.stores?.scaling ?? [])
      .filter(isBroken)
      .map((c) => `store ${c.kind} with ${c.volumes} volumes: ${c.status}: ${c.reason}`),
    ...(results.stores?.processes ?? [])
      .filter(isBroken)
      .map((c) => `SQLite shared by ${c.processes} processes: ${c.status}: ${c.reason}`),
    ...(results.startup?.status === 'failed' ? [`start-up: failed: ${results.startup.reason}`] : []),
  ];
  for (const line of broken) log(line);
  if (broken.length > 0) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await runTeardown();
}
