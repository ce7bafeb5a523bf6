/**
 * A btrfs filesystem on a sparse loop file, made and removed by the benchmark (the same idea
 * as the backend's test helper, kept here because test helpers are not published). Needs root.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, sleep, sparseFile } from './util.mjs';

/**
 * @typedef {object} LoopBtrfs
 * @property {string} mountPoint - where the filesystem is mounted
 * @property {string} device - the loop device
 * @property {() => Promise<void>} destroy - unmounts, detaches and deletes the image (idempotent)
 */

/**
 * Makes and mounts a btrfs filesystem on a sparse loop file under `dir`.
 *
 * @param {string} dir - a directory for the image and the mount point (on a roomy filesystem)
 * @param {number} sizeBytes - the image's size (sparse: only what is written takes space)
 * @returns {Promise<LoopBtrfs>}
 */
export async function createLoopBtrfs(dir, sizeBytes) {
  const image = join(dir, 'btrfs.img');
  const mountPoint = join(dir, 'btrfs');
  /** @type {string | undefined} */
  let device;
  let mounted = false;

  const destroy = async () => {
    if (mounted) {
      for (let attempt = 0; ; attempt++) {
        const result = await run('umount', [mountPoint], { allowFailure: true });
        if (result.code === 0) break;
        if (attempt >= 40) throw new Error(`umount ${mountPoint} failed: ${result.stderr.trim()}`);
        await sleep(250);
      }
      mounted = false;
    }
    if (device) {
      await run('losetup', ['-d', device]);
      device = undefined;
    }
    await rm(image, { force: true });
    await rm(mountPoint, { recursive: true, force: true });
  };

  try {
    await sparseFile(image, sizeBytes);
    await run('mkfs.btrfs', ['-q', image]);
    device = (await run('losetup', ['--find', '--show', image])).stdout.trim();
    await mkdir(mountPoint);
    await run('mount', ['-t', 'btrfs', device, mountPoint]);
    mounted = true;
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  return { mountPoint, device: /** @type {string} */ (device), destroy };
}
