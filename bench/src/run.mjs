#!/usr/bin/env node
/**
 * cachevol benchmark. `npm run bench` (full) or `npm run bench -- --quick` from the repository
 * root; see docs/benchmarks.md. Generates deterministic trees, measures attach and commit
 * through the SDK on every backend this machine can run, the raw snapshot/clone commands,
 * `cp -a` and tar+zstd, and the core alone; prints tables and writes
 * bench/results/latest.json. Sets up (and always tears down) its own loop-mounted btrfs and
 * a ZFS pool on sparse files. Installs nothing: a missing tool makes the subjects that need it
 * "unavailable" with the reason.
 *
 * Options:
 *   --quick          small trees and few iterations (well under two minutes)
 *   --sizes LIST     sweep sizes, e.g. `10m,100m,1g,5g` (default: full 10m,100m,1g,5g; quick 2m,20m);
 *                    `none` runs only the node_modules tree
 *   --only LIST      subject ids to run (e.g. `btrfs,raw-btrfs-quota,tar-extract`); core always runs
 *   --no-core        skip the core benchmarks
 *   --tmp DIR        where to put trees, loop files and pools (default: the OS temp directory)
 *   --out FILE       results file (default: bench/results/latest.json)
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchEngine, benchSelection } from './core-bench.mjs';
import { installCommandTracer } from './instrument.mjs';
import { createLoopBtrfs } from './loop-btrfs.mjs';
import { createZfsPool, ensureZfsService } from './loop-zfs.mjs';
import { computeRatios, computeTargets, renderReport } from './report.mjs';
import {
  baselineSubject,
  memorySubject,
  rawBtrfs,
  rawSubject,
  rawZfs,
  sdkSubject,
  zfsPatiently,
} from './subjects.mjs';
import { findTools, isRoot, kernelZfs, missingTools } from './tools.mjs';
import { BYTES_PER_FILE, describePlan, planTree, writeTree } from './tree.mjs';
import { formatBytes, formatMs, messageOf, now, round, run, summarize } from './util.mjs';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    only: { type: 'string' },
    'no-core': { type: 'boolean', default: false },
    tmp: { type: 'string' },
    out: { type: 'string' },
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
let tearingDown = false;
async function runTeardown() {
  if (tearingDown) return;
  tearingDown = true;
  while (teardown.length > 0) {
    const step = teardown.pop();
    try {
      await step.fn();
    } catch (error) {
      log(`teardown: ${step.name} failed: ${messageOf(error)}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: tearing down`);
    runTeardown().finally(() => process.exit(130));
  });
}

/**
 * Runs one subject on one tree: open (populate), optional warm-up, then timed iterations
 * until `max` or (at least `min` and the time budget is spent), then close.
 *
 * @param {import('./subjects.mjs').Subject} subject - what to measure
 * @param {import('./subjects.mjs').TreeInfo} tree - on which tree
 * @param {{ min: number, max: number, budgetMs: number }} policy - how long
 */
async function measureCell(subject, tree, policy) {
  const base = { subject: subject.id, tree: tree.id };
  if (subject.unavailable) return { ...base, status: 'unavailable', reason: subject.unavailable };
  const skip = subject.skip?.(tree);
  if (skip) return { ...base, status: 'skipped', reason: skip };
  /** @type {Record<string, any[]>} */
  const records = Object.fromEntries(subject.ops.map((op) => [op, []]));
  let cell;
  const started = now();
  try {
    cell = await subject.open(tree);
    if (subject.warmup) await cell.iterate(0);
    for (let i = 1; i <= policy.max; i++) {
      if (i > policy.min && now() - started > policy.budgetMs) break;
      const round = await cell.iterate(i);
      for (const op of subject.ops) records[op].push(round[op]);
    }
  } catch (error) {
    log(`  ${subject.id} on ${tree.id} failed: ${messageOf(error)}`);
    await cell?.close().catch(() => undefined);
    return { ...base, status: 'failed', reason: messageOf(error), partialSamples: records };
  }
  await cell
    .close()
    .catch((error) => log(`  ${subject.id} on ${tree.id}: close failed: ${messageOf(error)}`));
  const ops = {};
  const breakdown = {};
  for (const op of subject.ops) {
    const samples = records[op].map((r) => r.ms);
    ops[op] = { ...summarize(samples), samplesMs: samples.map(round) };
    if (records[op][0]?.parts) breakdown[op] = breakdownOf(records[op], ops[op].mean);
  }
  return {
    ...base,
    status: 'ok',
    populateMs: round(cell.populateMs),
    ...(cell.info ? { info: cell.info } : {}),
    ops,
    ...(Object.keys(breakdown).length > 0 ? { breakdown } : {}),
  };
}

/**
 * Mean time per operation in store calls, backend calls and the rest, and the commands the
 * backend spawned (count and time per operation).
 *
 * @param {import('./subjects.mjs').StepRecord[]} records - one per iteration
 * @param {number} mean - mean duration of the operation
 */
function breakdownOf(records, mean) {
  const n = records.length;
  const parts = {};
  for (const r of records)
    for (const [k, v] of Object.entries(r.parts ?? {})) parts[k] = (parts[k] ?? 0) + v / n;
  const counted = Object.values(parts).reduce((a, b) => a + b, 0);
  const commands = new Map();
  for (const r of records) {
    for (const c of r.commands ?? []) {
      const words = [];
      for (const arg of c.args) {
        if (words.length >= 4 || /[/@=]|^\d+$/.test(arg)) break;
        words.push(arg);
      }
      const key = [c.command, ...words].join(' ');
      const entry = commands.get(key) ?? { command: key, count: 0, ms: 0 };
      entry.count++;
      entry.ms += Number.isFinite(c.ms) ? c.ms : 0;
      commands.set(key, entry);
    }
  }
  return {
    parts: Object.fromEntries(
      [
        ...Object.entries(parts).map(([k, v]) => [k, round(v)]),
        ['engine+other', round(mean - counted)],
      ].filter(([, v]) => v !== 0),
    ),
    commands: [...commands.values()]
      .map((c) => ({ command: c.command, perOp: round(c.count / n), msPerOp: round(c.ms / n) }))
      .sort((a, b) => b.msPerOp - a.msPerOp),
  };
}

/**
 * Imports a workspace package and picks one export, or explains why it cannot.
 *
 * @param {string} name - package name
 * @param {string} exportName - the factory it must export
 * @returns {Promise<{ fn: any, reason: null } | { fn: null, reason: string }>}
 */
async function importFactory(name, exportName) {
  try {
    const mod = await import(name);
    if (typeof mod[exportName] === 'function') return { fn: mod[exportName], reason: null };
    return { fn: null, reason: `${name} does not export ${exportName} (yet)` };
  } catch (error) {
    return { fn: null, reason: `cannot import ${name} (run npm run build first?): ${messageOf(error)}` };
  }
}

async function main() {
  const startedAt = new Date();
  installCommandTracer();
  const tmpBase = resolve(argv.tmp ?? tmpdir());
  const outFile = resolve(argv.out ?? join(BENCH_DIR, 'results', 'latest.json'));
  const only = argv.only ? new Set(argv.only.split(',').map((s) => s.trim())) : null;

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

  const work = await mkdtemp(join(tmpBase, 'cachevol-bench-'));
  teardown.push({ name: `remove ${work}`, fn: () => rm(work, { recursive: true, force: true }) });
  const dirs = {};
  for (const name of ['trees', 'scratch', 'jobs', 'state', 'dir', 'loops']) {
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

  // ---- environment: packages, loop filesystems, pool ------------------------------------
  const tools = results.tools;
  const pkgs = {
    memory: await importFactory('@cachevol/backend-memory', 'createMemoryBackend'),
    dir: await importFactory('@cachevol/backend-dir', 'createDirBackend'),
    btrfs: await importFactory('@cachevol/backend-btrfs', 'createBtrfsBackend'),
    zfs: await importFactory('@cachevol/backend-zfs', 'createZfsBackend'),
    fileStore: await importFactory('@cachevol/store-file', 'createFileStore'),
  };
  results.environment.packages = Object.fromEntries(
    Object.entries(pkgs).map(([k, v]) => [k, v.reason ?? 'ok']),
  );

  const wanted = (ids) => !only || ids.some((id) => only.has(id));
  /** @type {{ noQuota: import('./loop-btrfs.mjs').LoopBtrfs | null, quota: import('./loop-btrfs.mjs').LoopBtrfs | null }} */
  const btrfs = { noQuota: null, quota: null };
  let btrfsReason = !isRoot()
    ? 'needs root (loop devices, mounts)'
    : missingTools(tools, ['btrfs', 'mkfs.btrfs', 'losetup', 'mount', 'umount', 'cp']);
  if (!btrfsReason && wanted(['btrfs', 'btrfs-noquota', 'raw-btrfs', 'raw-btrfs-quota', 'dir-reflink'])) {
    try {
      for (const kind of ['noQuota', 'quota']) {
        const dir = join(dirs.loops, `btrfs-${kind}`);
        await mkdir(dir);
        const loop = await createLoopBtrfs(dir, imageBytes);
        teardown.push({ name: `btrfs loop ${loop.mountPoint}`, fn: () => loop.destroy() });
        btrfs[kind] = loop;
      }
      await run('btrfs', ['quota', 'enable', btrfs.quota.mountPoint]);
      await run('btrfs', ['quota', 'rescan', '-w', btrfs.quota.mountPoint]);
      results.environment.btrfs = {
        status: 'ok',
        imageBytes,
        mounts: { noQuota: btrfs.noQuota.mountPoint, quota: btrfs.quota.mountPoint },
      };
    } catch (error) {
      btrfsReason = `loop btrfs set-up failed: ${messageOf(error)}`;
    }
  }
  if (btrfsReason) results.environment.btrfs = { status: 'unavailable', reason: btrfsReason };

  /** @type {import('./loop-zfs.mjs').ZfsPool | null} */
  let pool = null;
  let zfsReason = !isRoot() ? 'needs root (pools)' : missingTools(tools, ['zfs', 'zpool', 'cp']);
  if (!zfsReason && !kernelZfs() && !tools['zfs-fuse'].path && !tools.zpool.path) zfsReason = 'no ZFS';
  if (!zfsReason && wanted(['zfs', 'raw-zfs'])) {
    try {
      const service = await ensureZfsService();
      if (service.startedPid !== null) {
        log(`started zfs-fuse (pid ${service.startedPid}); it is stopped at the end`);
        teardown.push({ name: 'stop zfs-fuse', fn: () => service.stop() });
      }
      results.environment.zfsFuseStartedByBench = service.startedPid !== null;
      const dir = join(dirs.loops, 'zfs');
      await mkdir(dir);
      pool = await createZfsPool(dir, `cachevol-bench-${process.pid}`, imageBytes);
      teardown.push({ name: `zfs pool ${pool.pool}`, fn: () => pool?.destroy() });
      results.environment.zfs = {
        status: 'ok',
        implementation: kernelZfs() ? 'kernel (OpenZFS)' : 'zfs-fuse',
        pool: pool.pool,
        imageBytes,
      };
    } catch (error) {
      zfsReason = `ZFS set-up failed: ${messageOf(error)}`;
    }
  }
  if (zfsReason) results.environment.zfs = { status: 'unavailable', reason: zfsReason };

  // ---- subjects ---------------------------------------------------------------------------
  const needs = (...reasons) => reasons.find((r) => r) ?? null;
  const fileStore = async () => pkgs.fileStore.fn;
  const common = { fileStore, stateDir: dirs.state, jobsDir: dirs.jobs };
  const treeRoot = (base, tree, prefix) => async () => {
    const root = join(base, `${prefix}-${tree.id}`);
    await mkdir(root, { recursive: true });
    return root;
  };
  const subjects = [
    memorySubject({
      unavailable: pkgs.memory.reason,
      memoryBackend: async () => pkgs.memory.fn,
      jobsDir: dirs.jobs,
      maxFiles: MEMORY_MAX_FILES,
    }),
    sdkSubject({
      id: 'dir',
      label: 'dir (SDK, full copy on ext4)',
      unavailable: needs(pkgs.dir.reason, pkgs.fileStore.reason),
      warmup: false,
      make: async (tree) => {
        const root = await treeRoot(dirs.dir, tree, 'dir')();
        return {
          backend: pkgs.dir.fn({ root, reflink: 'never' }),
          dispose: () => rm(root, { recursive: true, force: true }),
        };
      },
      ...common,
    }),
    sdkSubject({
      id: 'dir-reflink',
      label: 'dir (SDK, reflink copy on btrfs)',
      unavailable: needs(pkgs.dir.reason, pkgs.fileStore.reason, btrfsReason),
      warmup: false,
      make: async (tree) => {
        const root = await treeRoot(btrfs.noQuota.mountPoint, tree, 'dir')();
        return {
          backend: pkgs.dir.fn({ root, reflink: 'always' }),
          dispose: () => rm(root, { recursive: true, force: true }),
        };
      },
      ...common,
    }),
    sdkSubject({
      id: 'btrfs-noquota',
      label: 'btrfs (SDK, quota: false)',
      unavailable: needs(pkgs.btrfs.reason, pkgs.fileStore.reason, btrfsReason),
      make: async (tree) => {
        const root = await treeRoot(btrfs.noQuota.mountPoint, tree, 'sdk')();
        return { backend: pkgs.btrfs.fn({ root, quota: false }) };
      },
      ...common,
    }),
    rawSubject({
      id: 'raw-btrfs',
      label: 'raw btrfs snapshot (quotas off)',
      unavailable: btrfsReason,
      make: (tree) => rawBtrfs(btrfs.noQuota.mountPoint)(tree),
      jobsDir: dirs.jobs,
    }),
    sdkSubject({
      id: 'btrfs',
      label: 'btrfs (SDK, default quota: true)',
      unavailable: needs(pkgs.btrfs.reason, pkgs.fileStore.reason, btrfsReason),
      make: async (tree) => {
        const root = await treeRoot(btrfs.quota.mountPoint, tree, 'sdk')();
        return { backend: pkgs.btrfs.fn({ root }) };
      },
      ...common,
    }),
    rawSubject({
      id: 'raw-btrfs-quota',
      label: 'raw btrfs snapshot (quotas on)',
      unavailable: btrfsReason,
      make: (tree) => rawBtrfs(btrfs.quota.mountPoint)(tree),
      jobsDir: dirs.jobs,
    }),
    sdkSubject({
      id: 'zfs',
      label: `zfs (SDK${kernelZfs() ? '' : ', zfs-fuse'})`,
      unavailable: needs(pkgs.zfs.reason, pkgs.fileStore.reason, zfsReason),
      make: async (tree) => {
        const dataset = `${pool.pool}/sdk-${tree.id}`;
        await run('zfs', ['create', dataset]);
        return {
          backend: pkgs.zfs.fn({ dataset }),
          dispose: () => zfsPatiently(['destroy', '-r', '-R', dataset]).catch(() => undefined),
        };
      },
      ...common,
    }),
    rawSubject({
      id: 'raw-zfs',
      label: `raw zfs clone${kernelZfs() ? '' : ' (zfs-fuse)'}`,
      unavailable: zfsReason,
      make: (tree) => rawZfs(pool.pool, pool.mountPoint)(tree),
      jobsDir: dirs.jobs,
    }),
    baselineSubject({
      id: 'cp-a',
      label: 'cp -a (ext4)',
      op: 'restore',
      unavailable: missingTools(tools, ['cp']),
      scratch: dirs.scratch,
      command: (tree, out) => ['cp', ['-a', join(tree.dir, 'node_modules'), out]],
    }),
    baselineSubject({
      id: 'tar-extract',
      label: 'tar+zstd extract (ext4)',
      op: 'restore',
      unavailable: missingTools(tools, ['tar', 'zstd']),
      scratch: dirs.scratch,
      outputIsDir: true,
      command: (tree, out) => ['tar', ['--zstd', '-xf', tree.archive, '-C', out]],
    }),
    baselineSubject({
      id: 'tar-create',
      label: 'tar+zstd create (ext4)',
      op: 'save',
      unavailable: missingTools(tools, ['tar', 'zstd']),
      scratch: dirs.scratch,
      command: (tree, out) => ['tar', ['--zstd', '-cf', `${out}.tar.zst`, '-C', tree.dir, 'node_modules']],
    }),
  ].filter((s) => !only || only.has(s.id));
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
  for (const spec of treeSpecs) {
    const plan = planTree({ name: spec.id, bytes: spec.bytes, files: spec.files });
    const dir = join(dirs.trees, spec.id);
    await mkdir(dir);
    log(`tree ${spec.label}: writing ${plan.files.length} files, ${formatBytes(plan.bytes)}`);
    let t = now();
    await writeTree(plan, dir);
    const generateMs = now() - t;
    /** @type {import('./subjects.mjs').TreeInfo} */
    const tree = {
      id: spec.id,
      label: spec.label,
      group: spec.group,
      plan,
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
    if (canTar) {
      t = now();
      await run('tar', ['--zstd', '-cf', tree.archive, '-C', dir, 'node_modules']);
      const archiveBytes = statSync(tree.archive).size;
      record.archive = {
        bytes: archiveBytes,
        ratio: round(plan.bytes / archiveBytes),
        createMs: round(now() - t),
      };
    }
    results.trees.push(record);
    await run('sync', []);
    const policy = CONFIG.iterations[spec.group];
    for (const subject of subjects) {
      const t0 = now();
      const cell = await measureCell(subject, tree, policy);
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
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await runTeardown();
}
