/**
 * What the benchmark measures on each tree ("subjects"): the SDK (`CacheVolumes`) on each
 * backend, the same snapshot/clone commands run by hand ("raw"), and the baselines (`cp -a`,
 * tar + zstd). Each subject opens a "cell" for one tree (populating whatever it needs, untimed
 * except for the record), runs timed iterations, and closes it again.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumes, createMemoryStore } from '@cachevol/core';
import { timedBackend, timedStore, traceCommands } from './instrument.mjs';
import { forEachFile } from './tree.mjs';
import { now, run, syncAll } from './util.mjs';

/** The volume every SDK cell uses. */
const VOLUME = 'deps';
const ATTACH = { scope: 'bench', size: '20g' };

/**
 * @typedef {object} TreeInfo
 * @property {string} id - e.g. `node-modules`, `sweep-10MiB`
 * @property {string} label - for tables
 * @property {'node-modules' | 'sweep'} group - which part of the benchmark it belongs to
 * @property {number} files - how many files it has
 * @property {number} bytes - the byte size it was made to
 * @property {import('./tree.mjs').TreePlan} plan - what is in it (computed on first use)
 * @property {string} dir - the directory holding `node_modules/`
 * @property {string} archive - its `.tar.zst`
 */

/**
 * @typedef {object} StepRecord
 * @property {number} ms - the timed duration
 * @property {Record<string, number>} [parts] - ms spent in store and backend calls
 * @property {import('./instrument.mjs').CommandRecord[]} [commands] - child processes spawned
 */

/**
 * @typedef {object} Cell
 * @property {number} populateMs - untimed set-up: putting the tree into the subject's storage
 * @property {Record<string, unknown>} [info] - facts worth recording (used bytes, ...)
 * @property {(i: number) => Promise<Record<string, StepRecord>>} iterate - one timed round
 * @property {() => Promise<void>} close - removes everything the cell made
 */

/**
 * @typedef {object} Subject
 * @property {string} id - stable key in results (`btrfs`, `raw-btrfs`, `cp-a`, ...)
 * @property {string} label - for tables
 * @property {'sdk' | 'raw' | 'baseline'} kind - what it is
 * @property {string[]} ops - the timed operations it reports
 * @property {boolean} warmup - run one untimed iteration first
 * @property {string | null} unavailable - why it cannot run here, or `null`
 * @property {(tree: TreeInfo) => string | null} [skip] - why it skips a tree, or `null`
 * @property {(tree: TreeInfo) => Promise<Cell>} open - sets up a cell for a tree
 */

/** Copies a tree's `node_modules/` into `dest/` with `cp -a`. */
async function copyInto(tree, dest) {
  await run('cp', ['-a', join(tree.dir, 'node_modules'), `${dest}/`]);
}

/**
 * A cell of the SDK on one backend: a volume whose head holds the tree; each iteration
 * attaches a fork of the head and links its `node_modules` into a fresh job directory
 * (timed: "attach"), writes one file through the link (the job), and commits (timed:
 * "commit"). Old versions are removed by `gc()` between iterations (untimed), as retention
 * would.
 *
 * @param {object} options
 * @param {import('@cachevol/core').Backend} options.backend - a fresh backend for this tree
 * @param {import('@cachevol/core').Store} options.store - a fresh store
 * @param {TreeInfo} options.tree - the tree
 * @param {string} options.jobsDir - where job directories are made
 * @param {boolean} options.filesystem - forks are real directories (else the memory backend)
 * @param {() => Promise<void>} [options.dispose] - removes what the backend leaves after the volume is gone
 * @returns {Promise<Cell>}
 */
export async function openSdkCell({ backend, store, tree, jobsDir, filesystem, dispose }) {
  /** @type {Record<string, number>} */
  const parts = {};
  const volumes = new CacheVolumes({
    backend: timedBackend(backend, parts),
    store: timedStore(store, parts),
    host: 'bench-host',
  });
  const started = now();
  const first = await volumes.attach(VOLUME, { ...ATTACH, job: 'populate' });
  if (filesystem) await copyInto(tree, first.mountPath);
  else {
    const files = /** @type {import('@cachevol/backend-memory').MemoryBackend} */ (backend).files(first.id);
    await forEachFile(tree.plan, (file, data) => files.write(file.path, data), 1);
  }
  const base = await first.commit();
  const populateMs = now() - started;
  await syncAll();
  // The commit's figure may be an estimate (btrfs without quotas); the budget needs the real one.
  const baseBytes = (await backend.usage('version', base.id)).usedBytes;
  const cleaner = new CacheVolumes({
    backend,
    store,
    host: 'bench-host',
    policy: { maxTotalBytes: Math.max(1, Math.ceil(baseBytes * 1.5)) },
  });

  const step = async (work) => {
    for (const key of Object.keys(parts)) delete parts[key];
    const { result, commands } = await traceCommands(async () => {
      const t = now();
      const value = await work();
      return { value, ms: now() - t };
    });
    if (process.env.BENCH_TRACE) {
      const timeline = commands.map(
        (c) => `@${c.atMs.toFixed(1)} ${c.command} ${c.args.slice(0, 3).join(' ')} ${c.ms.toFixed(1)}ms`,
      );
      console.error(
        `    [trace] ${result.ms.toFixed(1)} ms ${JSON.stringify(parts)}\n      ${timeline.join('\n      ')}`,
      );
    }
    return { value: result.value, record: { ms: result.ms, parts: { ...parts }, commands } };
  };

  return {
    populateMs,
    info: { versionUsedBytes: baseBytes },
    async iterate(i) {
      const job = join(jobsDir, `job-${i}`);
      await mkdir(job, { recursive: true });
      const attach = await step(async () => {
        const fork = await volumes.attach(VOLUME, { ...ATTACH, job: `job-${i}` });
        if (filesystem) await symlink(join(fork.mountPath, 'node_modules'), join(job, 'node_modules'));
        return fork;
      });
      const fork = attach.value;
      if (filesystem) await writeFile(join(job, 'node_modules', '.bench-stamp'), `${i}\n`);
      else backend.files(fork.id).write('node_modules/.bench-stamp', `${i}\n`);
      const commit = await step(() => fork.commit());
      await rm(job, { recursive: true, force: true });
      await cleaner.gc();
      await syncAll();
      return { attach: attach.record, commit: commit.record };
    },
    async close() {
      await volumes.removeVolume(VOLUME, { scope: ATTACH.scope }).catch(() => undefined);
      await dispose?.();
    },
  };
}

/**
 * The SDK with the SQLite store (what one host runs) on a filesystem backend.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {(tree: TreeInfo) => Promise<{ backend: import('@cachevol/core').Backend, dispose?: () => Promise<void> }>} options.make -
 *   a fresh backend for a tree
 * @param {() => Promise<(options: { path: string }) => import('@cachevol/core').Store>} options.sqliteStore -
 *   the SQLite store factory
 * @param {string} options.stateDir - where state files go
 * @param {string} options.jobsDir - where job directories go
 * @param {(tree: TreeInfo) => string | null} [options.skip] - trees it skips
 * @param {boolean} [options.warmup] - run one untimed iteration first (default true)
 * @returns {Subject}
 */
export function sdkSubject({
  id,
  label,
  unavailable,
  make,
  sqliteStore,
  stateDir,
  jobsDir,
  skip,
  warmup = true,
}) {
  return {
    id,
    label,
    kind: 'sdk',
    ops: ['attach', 'commit'],
    warmup,
    unavailable,
    skip,
    async open(tree) {
      const { backend, dispose } = await make(tree);
      const createSqliteStore = await sqliteStore();
      const path = join(stateDir, `${id}-${tree.id}.db`);
      const store = createSqliteStore({ path });
      const cell = await openSdkCell({
        backend,
        store,
        tree,
        jobsDir: join(jobsDir, `${id}-${tree.id}`),
        filesystem: true,
        dispose: async () => {
          await dispose?.();
          await store.close();
          for (const suffix of ['', '-wal', '-shm'])
            await rm(`${path}${suffix}`, { recursive: true, force: true });
        },
      });
      return cell;
    },
  };
}

/**
 * The SDK on the memory backend with the memory store (no disk at all).
 *
 * @param {object} options
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {() => Promise<() => import('@cachevol/backend-memory').MemoryBackend>} options.memoryBackend -
 *   the factory
 * @param {string} options.jobsDir - unused by memory forks, kept for symmetry
 * @param {number} options.maxFiles - larger trees are skipped (populating them is quadratic)
 * @returns {Subject}
 */
export function memorySubject({ unavailable, memoryBackend, jobsDir, maxFiles }) {
  return {
    id: 'memory',
    label: 'memory (SDK, memory store)',
    kind: 'sdk',
    ops: ['attach', 'commit'],
    warmup: true,
    unavailable,
    skip: (tree) =>
      tree.files > maxFiles
        ? `${tree.files} files; filling a memory fork costs O(files) per write (MemoryBackend.files().write re-sums the whole tree), so ${tree.files} files would take too long`
        : null,
    async open(tree) {
      const createMemoryBackend = await memoryBackend();
      return openSdkCell({
        backend: createMemoryBackend(),
        store: createMemoryStore(),
        tree,
        jobsDir: join(jobsDir, `memory-${tree.id}`),
        filesystem: false,
      });
    },
  };
}

/**
 * @typedef {object} RawOps
 * @property {(tree: TreeInfo) => Promise<void>} populate - makes the base version holding the tree
 * @property {(i: number) => Promise<string>} fork - makes fork `i` of the base version; returns its path
 * @property {(i: number) => Promise<void>} commit - turns fork `i` into a read-only version
 * @property {(i: number) => Promise<void>} dropVersion - removes version `i` (untimed clean-up)
 * @property {() => Promise<void>} close - removes the base version and everything else
 */

/**
 * The snapshot/clone commands run by hand, without the SDK: attach = fork command + symlink,
 * commit = the commands that freeze the fork as a version.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {(tree: TreeInfo) => RawOps} options.make - the commands for a tree
 * @param {string} options.jobsDir - where job directories go
 * @returns {Subject}
 */
export function rawSubject({ id, label, unavailable, make, jobsDir }) {
  return {
    id,
    label,
    kind: 'raw',
    ops: ['attach', 'commit'],
    warmup: true,
    unavailable,
    async open(tree) {
      const ops = make(tree);
      const started = now();
      await ops.populate(tree);
      const populateMs = now() - started;
      await syncAll();
      return {
        populateMs,
        async iterate(i) {
          const job = join(jobsDir, `${id}-${tree.id}`, `job-${i}`);
          await mkdir(job, { recursive: true });
          let t = now();
          const path = await ops.fork(i);
          await symlink(join(path, 'node_modules'), join(job, 'node_modules'));
          const attach = now() - t;
          await writeFile(join(job, 'node_modules', '.bench-stamp'), `${i}\n`);
          t = now();
          await ops.commit(i);
          const commit = now() - t;
          await rm(job, { recursive: true, force: true });
          await ops.dropVersion(i);
          await syncAll();
          return { attach: { ms: attach }, commit: { ms: commit } };
        },
        close: () => ops.close(),
      };
    },
  };
}

/**
 * Raw btrfs: `btrfs subvolume snapshot <base> <fork>` to attach; `btrfs subvolume snapshot -r
 * <fork> <version>` then `btrfs subvolume delete <fork>` to commit.
 *
 * @param {string} mountPoint - a btrfs mount
 * @returns {(tree: TreeInfo) => RawOps}
 */
export function rawBtrfs(mountPoint) {
  return (tree) => {
    const root = join(mountPoint, `raw-${tree.id}`);
    const base = join(root, 'v-base');
    return {
      async populate() {
        await mkdir(root, { recursive: true });
        await run('btrfs', ['subvolume', 'create', join(root, 'build')]);
        await copyInto(tree, join(root, 'build'));
        await run('btrfs', ['subvolume', 'snapshot', '-r', join(root, 'build'), base]);
        await run('btrfs', ['subvolume', 'delete', join(root, 'build')]);
      },
      async fork(i) {
        await run('btrfs', ['subvolume', 'snapshot', base, join(root, `f-${i}`)]);
        return join(root, `f-${i}`);
      },
      async commit(i) {
        await run('btrfs', ['subvolume', 'snapshot', '-r', join(root, `f-${i}`), join(root, `v-${i}`)]);
        await run('btrfs', ['subvolume', 'delete', join(root, `f-${i}`)]);
      },
      async dropVersion(i) {
        await run('btrfs', ['subvolume', 'delete', join(root, `v-${i}`)]);
      },
      async close() {
        await run('btrfs', ['subvolume', 'delete', base], { allowFailure: true });
        await rm(root, { recursive: true, force: true });
      },
    };
  };
}

/**
 * Runs a zfs command, retrying while zfs-fuse still reports the dataset busy (it releases a
 * mount asynchronously); used only for untimed clean-up.
 *
 * @param {string[]} args - zfs arguments
 */
export async function zfsPatiently(args) {
  for (let attempt = 0; ; attempt++) {
    const result = await run('zfs', args, { allowFailure: true });
    if (result.code === 0) return;
    if (attempt >= 40 || !/busy/i.test(result.stderr)) {
      throw new Error(`zfs ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Raw ZFS: `zfs clone <base>@v <fork>` to attach; `zfs snapshot <fork>@v` to commit (the
 * snapshot is the immutable version the next fork is cloned from).
 *
 * @param {string} pool - the pool (its root dataset is mounted)
 * @param {string} mountPoint - the pool's mount point
 * @param {{ refquota?: boolean }} [options] - `refquota`: clone with `-o refquota=` the
 *   capacity the SDK gives a fork of the tree (its size + the requested 20 GiB)
 * @returns {(tree: TreeInfo) => RawOps}
 */
export function rawZfs(pool, mountPoint, { refquota = false } = {}) {
  return (tree) => {
    const name = refquota ? `rawq-${tree.id}` : `raw-${tree.id}`;
    const parent = `${pool}/${name}`;
    const quota = refquota ? ['-o', `refquota=${tree.bytes + 20 * 1024 ** 3}`] : [];
    return {
      async populate() {
        await run('zfs', ['create', parent]);
        await run('zfs', ['create', `${parent}/base`]);
        await copyInto(tree, join(mountPoint, name, 'base'));
        await run('zfs', ['snapshot', `${parent}/base@v`]);
      },
      async fork(i) {
        await run('zfs', ['clone', ...quota, `${parent}/base@v`, `${parent}/f-${i}`]);
        return join(mountPoint, name, `f-${i}`);
      },
      async commit(i) {
        await run('zfs', ['snapshot', `${parent}/f-${i}@v`]);
      },
      async dropVersion(i) {
        await zfsPatiently(['destroy', '-r', `${parent}/f-${i}`]);
      },
      async close() {
        await zfsPatiently(['destroy', '-r', parent]).catch(() => undefined);
      },
    };
  };
}

/**
 * A baseline that restores or saves the tree the way an archive-based CI cache or a plain
 * copy does.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string} options.op - the operation name in results (`restore`, `save`)
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {string} options.scratch - where outputs go (removed after each iteration)
 * @param {(tree: TreeInfo, out: string) => [string, string[]]} options.command - program and arguments
 * @param {boolean} [options.outputIsDir] - make `out` as an empty directory first
 * @returns {Subject}
 */
export function baselineSubject({ id, label, op, unavailable, scratch, command, outputIsDir = false }) {
  return {
    id,
    label,
    kind: 'baseline',
    ops: [op],
    warmup: false,
    unavailable,
    async open(tree) {
      return {
        populateMs: 0,
        async iterate(i) {
          const out = join(scratch, `${id}-${tree.id}-${i}`);
          if (outputIsDir) await mkdir(out, { recursive: true });
          const [program, args] = command(tree, out);
          const t = now();
          await run(program, args);
          const ms = now() - t;
          await rm(out, { recursive: true, force: true });
          await syncAll();
          return { [op]: { ms } };
        },
        close: async () => undefined,
      };
    },
  };
}
