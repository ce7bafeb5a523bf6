/**
 * The list of subjects, built the same way in the orchestrator (for names and availability)
 * and in each cell's child process (to run them), from a JSON-serialisable description of the
 * environment.
 */
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { copyCompareSubject } from './copy-compare.mjs';
import { fleetAttachSubject } from './fleet-attach.mjs';
import { sendDeltaSubject } from './send-delta.mjs';
import {
  baselineSubject,
  memorySubject,
  rawBtrfs,
  rawSubject,
  rawZfs,
  sdkSubject,
  zfsPatiently,
} from './subjects.mjs';
import { missingTools } from './tools.mjs';
import { messageOf, run } from './util.mjs';

/**
 * @typedef {object} Environment
 * @property {{ jobs: string, state: string, dir: string, scratch: string }} dirs - work directories
 * @property {{ noQuota: string, quota: string } | null} btrfs - mount points of the two loop filesystems
 * @property {string | null} btrfsReason - why btrfs is unavailable
 * @property {{ a: string, b: string } | null} fleet - mount points of the two hosts' loop filesystems (fleet-attach.mjs)
 * @property {string | null} fleetReason - why the two-host subject is unavailable
 * @property {{ pool: string, mountPoint: string, kernel: boolean } | null} zfs - the pool
 * @property {string | null} zfsReason - why ZFS is unavailable
 * @property {Record<string, import('./tools.mjs').ToolInfo>} tools - from findTools
 * @property {number} memoryMaxFiles - larger trees are not loaded into the memory backend
 */

/**
 * @typedef {{ fn: any, reason: null } | { fn: null, reason: string }} Factory
 */

/**
 * Imports a workspace package and picks one export, or explains why it cannot.
 *
 * @param {string} name - package name
 * @param {string} exportName - the factory it must export
 * @returns {Promise<Factory>}
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

/**
 * Whether a package can be found (for one that runs in a child process of its own).
 *
 * @param {string} name - package name
 * @returns {Factory}
 */
function findPackage(name) {
  try {
    createRequire(import.meta.url).resolve(name);
    return { fn: name, reason: null };
  } catch (error) {
    return { fn: null, reason: `cannot find ${name} (run npm install first?): ${messageOf(error)}` };
  }
}

/** Imports the backends, the SQLite store and the S3 object store from their built packages. */
export async function importPackages() {
  return {
    memory: await importFactory('@cachevol/backend-memory', 'createMemoryBackend'),
    dir: await importFactory('@cachevol/backend-dir', 'createDirBackend'),
    btrfs: await importFactory('@cachevol/backend-btrfs', 'createBtrfsBackend'),
    zfs: await importFactory('@cachevol/backend-zfs', 'createZfsBackend'),
    sqliteStore: await importFactory('@cachevol/store-sqlite', 'createSqliteStore'),
    objectsS3: await importFactory('@cachevol/objects-s3', 'createS3ObjectStore'),
    s3rver: findPackage('s3rver'),
  };
}

/**
 * Every subject, in the order they run on each tree.
 *
 * @param {Environment} env - the environment
 * @param {Awaited<ReturnType<typeof importPackages>>} pkgs - the imported packages
 * @returns {import('./subjects.mjs').Subject[]}
 */
export function buildSubjects(env, pkgs) {
  const { dirs, btrfs, zfs, tools } = env;
  const needs = (...reasons) => reasons.find((r) => r) ?? null;
  const common = { sqliteStore: async () => pkgs.sqliteStore.fn, stateDir: dirs.state, jobsDir: dirs.jobs };
  const rootFor = async (base, tree, prefix) => {
    const root = join(base, `${prefix}-${tree.id}`);
    await mkdir(root, { recursive: true });
    return root;
  };
  // The dir backend with full copies (`never`) or per-file clones (`always`), under `base()`.
  const dirSubject = (id, label, reflink, base, ...reasons) =>
    sdkSubject({
      id,
      label,
      unavailable: needs(pkgs.dir.reason, pkgs.sqliteStore.reason, ...reasons),
      warmup: false,
      make: async (tree) => {
        const root = await rootFor(base(), tree, 'dir');
        return {
          backend: pkgs.dir.fn({ root, reflink }),
          dispose: () => rm(root, { recursive: true, force: true }),
        };
      },
      ...common,
    });
  const fuse = zfs && !zfs.kernel ? ', zfs-fuse' : '';
  return [
    memorySubject({
      unavailable: pkgs.memory.reason,
      memoryBackend: async () => pkgs.memory.fn,
      jobsDir: dirs.jobs,
      maxFiles: env.memoryMaxFiles,
    }),
    dirSubject('dir', 'dir (SDK, full copy on ext4)', 'never', () => dirs.dir),
    dirSubject(
      'dir-reflink',
      'dir (SDK, reflink copy on btrfs)',
      'always',
      () => btrfs.noQuota,
      env.btrfsReason,
    ),
    sdkSubject({
      id: 'btrfs-noquota',
      label: 'btrfs (SDK, quota: false)',
      unavailable: needs(pkgs.btrfs.reason, pkgs.sqliteStore.reason, env.btrfsReason),
      make: async (tree) => ({
        backend: pkgs.btrfs.fn({ root: await rootFor(btrfs.noQuota, tree, 'sdk'), quota: false }),
      }),
      ...common,
    }),
    rawSubject({
      id: 'raw-btrfs',
      label: 'raw btrfs snapshot (quotas off)',
      unavailable: env.btrfsReason,
      make: (tree) => rawBtrfs(btrfs.noQuota)(tree),
      jobsDir: dirs.jobs,
    }),
    sdkSubject({
      id: 'btrfs',
      label: 'btrfs (SDK, default quota: true)',
      unavailable: needs(pkgs.btrfs.reason, pkgs.sqliteStore.reason, env.btrfsReason),
      make: async (tree) => ({ backend: pkgs.btrfs.fn({ root: await rootFor(btrfs.quota, tree, 'sdk') }) }),
      ...common,
    }),
    rawSubject({
      id: 'raw-btrfs-quota',
      label: 'raw btrfs snapshot (quotas on)',
      unavailable: env.btrfsReason,
      make: (tree) => rawBtrfs(btrfs.quota)(tree),
      jobsDir: dirs.jobs,
    }),
    sdkSubject({
      id: 'zfs',
      label: `zfs (SDK${fuse})`,
      unavailable: needs(pkgs.zfs.reason, pkgs.sqliteStore.reason, env.zfsReason),
      make: async (tree) => {
        const dataset = `${zfs.pool}/sdk-${tree.id}`;
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
      label: `raw zfs clone${fuse ? ' (zfs-fuse)' : ''}`,
      unavailable: env.zfsReason,
      make: (tree) => rawZfs(zfs.pool, zfs.mountPoint)(tree),
      jobsDir: dirs.jobs,
    }),
    rawSubject({
      id: 'raw-zfs-quota',
      label: `raw zfs clone -o refquota=${fuse ? ' (zfs-fuse)' : ''}`,
      unavailable: env.zfsReason,
      make: (tree) => rawZfs(zfs.pool, zfs.mountPoint, { refquota: true })(tree),
      jobsDir: dirs.jobs,
    }),
    copyCompareSubject({
      id: 'copy-ext4',
      label: 'dir backend copy vs cp -a (ext4)',
      unavailable: needs(pkgs.dir.reason, missingTools(tools, ['cp'])),
      base: () => dirs.dir,
      reflink: 'auto',
      cpOp: 'cp-a',
      cpFlags: ['-a'],
      dirBackend: async () => pkgs.dir.fn,
    }),
    copyCompareSubject({
      id: 'copy-reflink',
      label: 'dir backend reflink copy vs cp -a --reflink=always (btrfs)',
      unavailable: needs(pkgs.dir.reason, env.btrfsReason, missingTools(tools, ['cp'])),
      base: () => btrfs.noQuota,
      reflink: 'always',
      cpOp: 'cp-a-reflink',
      cpFlags: ['-a', '--reflink=always'],
      dirBackend: async () => pkgs.dir.fn,
    }),
    sendDeltaSubject({
      id: 'send-btrfs',
      label: 'btrfs send -p vs whole (backend sendVersion, quota: false)',
      unavailable: needs(pkgs.btrfs.reason, env.btrfsReason),
      format: 'btrfs-send',
      make: async (tree) => {
        const root = await rootFor(btrfs.noQuota, tree, 'send');
        return { backend: pkgs.btrfs.fn({ root, quota: false }), root };
      },
    }),
    sendDeltaSubject({
      id: 'send-dir',
      label: 'dir tar-zstd with a base vs whole (backend sendVersion, ext4)',
      unavailable: needs(pkgs.dir.reason, missingTools(tools, ['tar', 'zstd', 'cp'])),
      format: 'tar-zstd',
      make: async (tree) => {
        const root = await rootFor(dirs.dir, tree, 'send');
        return { backend: pkgs.dir.fn({ root }), root };
      },
    }),
    fleetAttachSubject({
      id: 'fleet-attach',
      label: 'attach without the head: stale, pull from a peer, restore from S3, tar+zstd from S3 (btrfs)',
      unavailable: needs(
        pkgs.btrfs.reason,
        pkgs.objectsS3.reason,
        pkgs.s3rver.reason,
        env.fleetReason,
        missingTools(tools, ['tar', 'zstd', 'cp']),
      ),
      mounts: () => env.fleet,
      btrfsBackend: async () => pkgs.btrfs.fn,
      s3Store: async () => pkgs.objectsS3.fn,
      scratch: dirs.scratch,
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
      command: (tree, out) => ['tar', ['--zstd', '-cf', out, '-C', tree.dir, 'node_modules']],
    }),
  ];
}
