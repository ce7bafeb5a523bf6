/**
 * A ZFS pool on a sparse file, made and destroyed by the benchmark, and the zfs-fuse daemon
 * (started only when no ZFS service answers, and then stopped again). Needs root.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { kernelZfs, which } from './tools.mjs';
import { run, sleep, sparseFile } from './util.mjs';

/**
 * @typedef {object} ZfsService
 * @property {number | null} startedPid - the zfs-fuse daemon this benchmark started, or `null`
 * @property {() => Promise<void>} stop - stops that daemon (does nothing if it was running already)
 */

/** Whether a ZFS service answers (`zpool list` succeeds). */
async function zfsAnswers() {
  const result = await run('zpool', ['list', '-H', '-o', 'name'], { allowFailure: true }).catch(() => null);
  return result?.code === 0;
}

/**
 * Makes sure ZFS commands work: with the kernel module nothing is needed; with zfs-fuse the
 * daemon is started when it is not running. Throws with the reason when ZFS cannot be used.
 *
 * @returns {Promise<ZfsService>}
 */
export async function ensureZfsService() {
  if (kernelZfs() || (await zfsAnswers())) return { startedPid: null, stop: async () => undefined };
  const daemon = which('zfs-fuse');
  if (!daemon)
    throw new Error('no ZFS service answers and zfs-fuse is not installed (apt-get install -y zfs-fuse)');
  await mkdir('/var/run/zfs', { recursive: true });
  await mkdir('/var/lock/zfs', { recursive: true });
  const child = spawn(daemon, ['--no-daemon'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', () => undefined);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  };
  for (let i = 0; i < 100; i++) {
    if (await zfsAnswers()) return { startedPid: child.pid ?? null, stop };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  await stop();
  throw new Error('started zfs-fuse, but `zpool list` still fails after 10 s');
}

/**
 * @typedef {object} ZfsPool
 * @property {string} pool - the pool's name (also its root dataset)
 * @property {string} mountPoint - where the root dataset is mounted
 * @property {() => Promise<void>} destroy - destroys the pool and deletes its file (idempotent)
 */

/**
 * Creates a pool on a sparse file under `dir`, its root dataset mounted at `<dir>/zfs`.
 *
 * @param {string} dir - a directory on a roomy filesystem
 * @param {string} name - the pool's name
 * @param {number} sizeBytes - the file's size (sparse)
 * @returns {Promise<ZfsPool>}
 */
export async function createZfsPool(dir, name, sizeBytes) {
  const image = join(dir, 'zfs-pool.img');
  const mountPoint = join(dir, 'zfs');
  let created = false;
  const destroy = async () => {
    if (created) {
      for (let attempt = 0; ; attempt++) {
        // A daemon that stopped answering is not retried for 40 minutes: one minute, then give up.
        const result = await run('zpool', ['destroy', '-f', name], { allowFailure: true, timeoutMs: 60_000 });
        if (result.code === 0) break;
        if (attempt >= 40 || result.stderr.includes('(killed after'))
          throw new Error(`zpool destroy ${name} failed: ${result.stderr.trim()}`);
        await sleep(500);
      }
      created = false;
    }
    await rm(image, { force: true });
    await rm(mountPoint, { recursive: true, force: true });
  };
  try {
    await sparseFile(image, sizeBytes);
    await run('zpool', ['create', '-m', mountPoint, name, image]);
    created = true;
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  return { pool: name, mountPoint, destroy };
}
