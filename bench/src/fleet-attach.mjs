/**
 * Attach time on a host without the head, against a tar+zstd restore of the same tree from the
 * same object store. Two hosts, each a `CacheVolumes` engine on the btrfs backend (`quota:
 * false`) on its own loop filesystem, share one memory store (one process, as the SDK's tests
 * run fleets) and one s3rver bucket (in a process of its own, on 127.0.0.1). Host A serves its
 * versions with `serveVersions` on 127.0.0.1; B reaches it through `httpVersionSource`.
 *
 * Set-up (untimed): A commits the tree as `v1` (uploaded whole to the bucket); B pulls `v1` from
 * A; A commits `v2`, which rewrites 5% of the tree's bytes (whole files, as send-delta.mjs does;
 * uploaded as a differential against `v1`'s full); the tree of `v2` goes to the same bucket once
 * as `tar -cf - . | zstd -3`, through the same S3 client. Then B holds `v1` only, and each
 * iteration times:
 *
 * - `stale`: B's engine without peers attaches: a stale fork of `v1` (checked).
 * - `pull`: B's engine with `fleet.peers = { a }` attaches: it pulls `v2` relative to `v1` from
 *   A's agent, then hits `v2` (checked); bytes received, from its `transfer` event.
 * - `tier-restore`: a host that holds nothing (a fresh root on B's filesystem, a host name of
 *   its own) runs `restore()` (`v1`'s full, then `v2`'s differential) and attaches (a hit on
 *   `v2`, checked); bytes downloaded.
 * - `tar-restore`: the archive is downloaded and piped through `zstd -d` into `tar -x`, into an
 *   empty directory on B's filesystem, until `tar` exits; bytes downloaded.
 *
 * Between iterations (untimed) B is put back to holding `v1` only: its copy of `v2` is removed
 * from its backend and B is taken off `v2`'s hosts in the store; the restoring host's copies and
 * the extracted tree are removed; `syncAll()` flushes and waits for btrfs's cleaner. The two
 * restores alternate in order between iterations. Every restore and pull ends in the page cache
 * (no `sync` is timed), as the tar extraction does.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CacheVolumes, createMemoryStore, httpVersionSource, serveVersions } from '@cachevol/core';
import { filesToChange, rewriteFiles } from './send-delta.mjs';
import { now, round, run, syncAll } from './util.mjs';

/** The share of the tree's bytes that `v2` changes. */
export const FLEET_CHANGE = 0.05;

/** The timed operations, in the order results list them. */
export const FLEET_OPS = ['stale', 'pull', 'tier-restore', 'tar-restore'];

const VOLUME = 'deps';
const SCOPE = 'bench';
const ATTACH = { scope: SCOPE, size: '20g' };
const BUCKET = 'cachevol-bench';
/** s3rver accepts any credentials; these keep the SDK from searching for real ones. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** Fleets keep more than two versions (docs/fleet.md); nothing here is removed by retention. */
const POLICY = { maxVersionsPerVolume: 4 };
/** Long enough that a pull always finishes within the attach (it is what is timed). */
const BUDGET_MS = 300_000;
const S3RVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 's3rver-process.mjs');

/**
 * Waits for a child process to exit; rejects with its stderr unless it exits with 0.
 *
 * @param {import('node:child_process').ChildProcess} child - the process
 * @param {string} what - its command line, for the error
 */
function exitOf(child, what) {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else reject(new Error(`${what} exited with ${code ?? signal}: ${stderr.trim().slice(0, 300)}`));
    });
  });
}

/**
 * Runs the steps of a pipe of processes; kills them all when one fails.
 *
 * @param {import('node:child_process').ChildProcess[]} children - the processes
 * @param {Promise<unknown>[]} steps - their exits and the transfers between them
 */
async function allOrKill(children, steps) {
  try {
    return await Promise.all(steps);
  } catch (error) {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.allSettled(steps);
    throw error;
  }
}

/**
 * `tar -C dir -cf - . | zstd -3 -c` into the object store under `key`.
 *
 * @param {import('@cachevol/core').ObjectStore} objects - the bucket
 * @param {string} key - the object's key
 * @param {string} dir - the tree to archive
 * @returns {Promise<{ bytes: number, ms: number }>}
 */
async function uploadArchive(objects, key, dir) {
  const t = now();
  const tar = spawn('tar', ['-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const zstd = spawn('zstd', ['-3', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  zstd.stdin.on('error', () => undefined);
  tar.stdout.pipe(zstd.stdin);
  const [put] = await allOrKill(
    [tar, zstd],
    [objects.put(key, zstd.stdout), exitOf(tar, 'tar -cf -'), exitOf(zstd, 'zstd -3')],
  );
  return { bytes: /** @type {{ bytes: number }} */ (put).bytes, ms: now() - t };
}

/**
 * Downloads `key` and pipes it through `zstd -d` into `tar -x -C dest`, until `tar` exits.
 *
 * @param {import('@cachevol/core').ObjectStore} objects - the bucket
 * @param {string} key - the archive's key
 * @param {string} dest - an empty directory
 * @returns {Promise<number>} bytes downloaded
 */
async function extractArchive(objects, key, dest) {
  const zstd = spawn('zstd', ['-d', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const tar = spawn('tar', ['-x', '-f', '-', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  for (const stdin of [zstd.stdin, tar.stdin]) stdin.on('error', () => undefined);
  zstd.stdout.pipe(tar.stdin);
  let bytes = 0;
  const download = (async () => {
    const body = await objects.get(key);
    async function* counted() {
      for await (const chunk of body) {
        bytes += chunk.length;
        yield chunk;
      }
    }
    await pipeline(Readable.from(counted()), zstd.stdin);
  })();
  await allOrKill([zstd, tar], [download, exitOf(zstd, 'zstd -d'), exitOf(tar, 'tar -x')]);
  return bytes;
}

/**
 * Starts s3rver in a child process (s3rver-process.mjs) with the bucket {@link BUCKET}.
 *
 * @param {string} directory - where it keeps the bucket's files
 * @returns {Promise<{ endpoint: string, stop: () => Promise<void> }>}
 */
async function startS3rver(directory) {
  await mkdir(directory, { recursive: true });
  const child = spawn(process.execPath, [S3RVER_SCRIPT, directory, BUCKET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const port = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      text += chunk;
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolve(JSON.parse(line).port);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code} before it listened`)));
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop };
}

/**
 * Takes `host` off the hosts of `versionIds` in the store: the record of a copy whose data the
 * caller removed from that host's backend (how the benchmark puts a host back to an earlier
 * state; the engine itself never drops a copy this way).
 *
 * @param {import('@cachevol/core').Store} store - the shared store
 * @param {string} host - the host
 * @param {string[]} versionIds - its copies to forget
 */
async function forgetCopies(store, host, versionIds) {
  await store.transact({ scope: SCOPE, name: VOLUME }, (slice) => {
    const volume = slice.volume;
    if (!volume) return { slice, result: undefined };
    const versions = { ...volume.versions };
    for (const id of versionIds) {
      const version = versions[id];
      if (version) versions[id] = { ...version, hosts: version.hosts.filter((h) => h !== host) };
    }
    return { slice: { ...slice, volume: { ...volume, versions } }, result: undefined };
  });
}

/**
 * Removes every fork and version a backend holds.
 *
 * @param {import('@cachevol/core').Backend} backend - the backend
 */
async function emptyBackend(backend) {
  for (const entry of await backend.list().catch(() => [])) {
    if (entry.kind === 'fork') await backend.discardFork(entry.id).catch(() => undefined);
    else await backend.removeVersion(entry.id).catch(() => undefined);
  }
}

/**
 * Fails unless a fork is the expected kind of attach of the expected version.
 *
 * @param {import('@cachevol/core').ForkHandle} fork - the attach's fork
 * @param {string} result - `hit` or `stale`
 * @param {string} versionId - the version it must be a fork of
 * @param {string} what - which operation, for the error
 */
function expectFork(fork, result, versionId, what) {
  if (fork.result !== result || fork.baseVersionId !== versionId)
    throw new Error(
      `${what}: expected a ${result} of ${versionId}, got a ${fork.result} of ${fork.baseVersionId}`,
    );
}

/**
 * The subject: stale attach, attach with a pull from a peer, restore from the object store,
 * and tar+zstd from the same object store, on two loop btrfs filesystems.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {() => { a: string, b: string }} options.mounts - the two hosts' btrfs mount points
 * @param {() => Promise<(options: { root: string, quota?: boolean }) => import('@cachevol/core').Backend>} options.btrfsBackend -
 *   `createBtrfsBackend`
 * @param {() => Promise<(options: object) => import('@cachevol/core').ObjectStore>} options.s3Store -
 *   `createS3ObjectStore`
 * @param {string} options.scratch - where s3rver keeps its files
 * @returns {import('./subjects.mjs').Subject}
 */
export function fleetAttachSubject({ id, label, unavailable, mounts, btrfsBackend, s3Store, scratch }) {
  return {
    id,
    label,
    kind: 'fleet',
    ops: FLEET_OPS,
    warmup: true,
    unavailable,
    skip: (tree) =>
      tree.group === 'sweep' ? 'the fleet comparison runs on the node_modules tree only' : null,
    async open(tree) {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const createBtrfsBackend = await btrfsBackend();
      const createS3ObjectStore = await s3Store();
      const { a: mountA, b: mountB } = mounts();
      const base = `fleet-${tree.id}`;
      const rootA = join(mountA, `${base}-a`);
      const rootB = join(mountB, `${base}-b`);
      const s3Dir = join(scratch, `${base}-s3`);
      /** @type {(() => Promise<void>)[]} */
      const cleanups = [];
      const close = async () => {
        for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
      };
      try {
        const s3 = await startS3rver(s3Dir);
        cleanups.push(async () => {
          await s3.stop();
          await rm(s3Dir, { recursive: true, force: true });
        });
        const objects = createS3ObjectStore({
          bucket: BUCKET,
          prefix: 'fleet/',
          endpoint: s3.endpoint,
          credentials: CREDENTIALS,
        });
        cleanups.push(async () => objects.close?.());
        const store = createMemoryStore();
        await mkdir(rootA, { recursive: true });
        await mkdir(rootB, { recursive: true });
        const backendA = createBtrfsBackend({ root: rootA, quota: false });
        const backendB = createBtrfsBackend({ root: rootB, quota: false });
        cleanups.push(async () => {
          for (const [backend, root] of [
            [backendA, rootA],
            [backendB, rootB],
          ]) {
            await emptyBackend(backend);
            await rm(root, { recursive: true, force: true });
          }
        });
        const a = new CacheVolumes({
          backend: backendA,
          store,
          host: 'a',
          policy: POLICY,
          objects: { store: objects },
        });
        const token = randomBytes(24).toString('hex');
        const agent = await serveVersions(a, { token, host: '127.0.0.1', port: 0 });
        cleanups.push(async () => {
          await agent.close();
          await a.idle();
        });
        const fromA = httpVersionSource({ url: agent.url, token, idleTimeoutMs: 60_000 });
        const b = new CacheVolumes({ backend: backendB, store, host: 'b', policy: POLICY });
        const bFleet = new CacheVolumes({
          backend: backendB,
          store,
          host: 'b',
          policy: POLICY,
          fleet: { peers: { a: fromA }, budgetMs: BUDGET_MS },
        });
        cleanups.push(async () => {
          await b.idle();
          await bFleet.idle();
        });

        // ---- populate (untimed) --------------------------------------------------------
        const started = now();
        const first = await a.attach(VOLUME, { ...ATTACH, job: 'populate-v1' });
        await run('cp', ['-a', join(tree.dir, 'node_modules'), `${first.mountPath}/`]);
        const v1 = (await first.commit()).id;
        let t = now();
        await a.idle();
        const uploadV1Ms = now() - t;
        t = now();
        const initial = await b.pull(VOLUME, { scope: SCOPE, from: fromA, versionId: v1 });
        const initialPullMs = now() - t;
        const second = await a.attach(VOLUME, { ...ATTACH, job: 'populate-v2' });
        expectFork(second, 'hit', v1, 'populate');
        const toChange = filesToChange(tree.plan, FLEET_CHANGE);
        const changed = await rewriteFiles(second.mountPath, `${tree.id}:fleet`, toChange);
        const v2 = (await second.commit()).id;
        t = now();
        await a.idle();
        const uploadV2Ms = now() - t;
        const recorded = (await store.read({ scope: SCOPE, name: VOLUME })).volume?.objects ?? [];
        const objectOf = (versionId) =>
          recorded.find((o) => o.versionId === versionId && o.state === 'present');
        const fullV1 = objectOf(v1);
        const diffV2 = objectOf(v2);
        if (!fullV1 || fullV1.baseId !== null || !diffV2 || diffV2.baseId !== v1)
          throw new Error(
            `expected v1 uploaded whole and v2 as a differential against it, got ${JSON.stringify(recorded.map((o) => [o.versionId, o.baseId, o.state]))}`,
          );
        const archiveKey = `tar/${tree.id}/${v2}.tar.zst`;
        const source = await a.attach(VOLUME, { ...ATTACH, job: 'archive' });
        expectFork(source, 'hit', v2, 'archive');
        const archive = await uploadArchive(objects, archiveKey, source.mountPath);
        // One changed file, to check each way of getting v2 against.
        const probe = toChange[0]?.file.path;
        const probeData = probe ? await readFile(join(source.mountPath, probe)) : null;
        await source.abandon();
        const populateMs = now() - started;
        await syncAll();

        /** Fails unless `dir` holds v2's version of the probe file. */
        const checkV2 = async (dir, what) => {
          if (!probe || !probeData) return;
          const data = await readFile(join(dir, probe));
          if (!data.equals(probeData)) throw new Error(`${what}: ${probe} does not hold v2's contents`);
        };

        /** @type {import('@cachevol/core').CacheVolumeEvents['transfer'] | null} */
        let transfer = null;
        bFleet.on('transfer', (event) => {
          transfer = event;
        });

        const stale = async (i) => {
          const t0 = now();
          const fork = await b.attach(VOLUME, { ...ATTACH, job: `stale-${i}` });
          const ms = now() - t0;
          expectFork(fork, 'stale', v1, 'stale');
          await fork.abandon();
          return { ms };
        };
        const pull = async (i) => {
          transfer = null;
          const t0 = now();
          const fork = await bFleet.attach(VOLUME, { ...ATTACH, job: `pull-${i}` });
          const ms = now() - t0;
          expectFork(fork, 'hit', v2, 'pull');
          const got = /** @type {any} */ (transfer);
          if (got?.from !== 'a' || got.action !== 'pull' || got.baseId !== v1)
            throw new Error(`pull: expected a pull of v2 from a relative to v1, got ${JSON.stringify(got)}`);
          await checkV2(fork.mountPath, 'pull');
          await fork.abandon();
          // Back to "B holds v1 only".
          await backendB.removeVersion(v2);
          await forgetCopies(store, 'b', [v2]);
          return { ms, bytes: got.bytes, baseId: got.baseId, format: 'btrfs-send' };
        };
        const tierRestore = async (i) => {
          const host = `r${i}`;
          const root = join(mountB, `${base}-${host}`);
          await mkdir(root, { recursive: true });
          const backend = createBtrfsBackend({ root, quota: false });
          const engine = new CacheVolumes({
            backend,
            store,
            host,
            policy: POLICY,
            objects: { store: objects },
          });
          try {
            const t0 = now();
            const report = await engine.restore(VOLUME, { scope: SCOPE, versionId: v2 });
            const fork = await engine.attach(VOLUME, { ...ATTACH, job: `restore-${i}` });
            const ms = now() - t0;
            expectFork(fork, 'hit', v2, 'tier-restore');
            await checkV2(fork.mountPath, 'tier-restore');
            await fork.abandon();
            await engine.idle();
            return { ms, bytes: report.bytes, baseId: report.baseId, format: report.format };
          } finally {
            await emptyBackend(backend);
            await rm(root, { recursive: true, force: true });
            await forgetCopies(store, host, [v1, v2]);
          }
        };
        const tarRestore = async (i) => {
          const dest = join(mountB, `${base}-tar-${i}`);
          await mkdir(dest, { recursive: true });
          try {
            const t0 = now();
            const bytes = await extractArchive(objects, archiveKey, dest);
            const ms = now() - t0;
            await checkV2(dest, 'tar-restore');
            return { ms, bytes };
          } finally {
            await rm(dest, { recursive: true, force: true });
          }
        };

        return {
          populateMs,
          info: {
            treeBytes: tree.plan.bytes,
            treeFiles: tree.plan.files.length,
            changedFiles: changed.files,
            changedBytes: changed.bytes,
            v1: {
              objectBytes: fullV1.bytes,
              uploadMs: round(uploadV1Ms),
              pullWholeBytes: initial.bytes,
              pullWholeMs: round(initialPullMs),
            },
            v2: { objectBytes: diffV2.bytes, uploadMs: round(uploadV2Ms) },
            archive: { bytes: archive.bytes, createAndUploadMs: round(archive.ms) },
          },
          async iterate(i) {
            const round = {};
            round.stale = await stale(i);
            await syncAll();
            round.pull = await pull(i);
            await syncAll();
            const restores = [
              ['tier-restore', tierRestore],
              ['tar-restore', tarRestore],
            ];
            if (i % 2 === 1) restores.reverse();
            for (const [op, fn] of restores) {
              round[op] = await fn(i);
              await syncAll();
            }
            return round;
          },
          close,
        };
      } catch (error) {
        await close();
        throw error;
      }
    },
  };
}
