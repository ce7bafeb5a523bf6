import { existsSync } from 'node:fs';
import { lstat, mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import { runTool } from './mounts.js';

/** `statfs` magic numbers of filesystems that overlay2 cannot keep its layers on. */
const UNFIT_FILESYSTEMS: Record<number, string> = {
  1702057286: 'a FUSE filesystem (zfs-fuse among them)',
  2035054128: 'an overlay filesystem',
};

/** The directory, in a container cache volume, that shows whether its copies keep what overlay2 needs. */
export const OVERLAY_CHECK_DIR = 'overlay-check';

function refuse(message: string, details: Record<string, unknown>): CacheVolumeError {
  return new CacheVolumeError('BACKEND_UNAVAILABLE', message, { details });
}

async function mountOverlay(check: string, target: string): Promise<string | null> {
  const dirs = ['lower', 'upper', 'work'].map((name) => join(check, name));
  if (dirs.some((dir) => /[,:\\\n]/.test(dir)))
    return `the path ${check} holds a comma, colon or backslash, which overlayfs options cannot hold`;
  const [lower, upper, work] = dirs;
  const options = `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
  await mkdir(target, { recursive: true });
  const result = await runTool('mount', ['-t', 'overlay', '-o', options, '--', 'overlay', target]);
  return result.code === 0 ? null : `mount -t overlay failed: ${result.stderr || `exit code ${result.code}`}`;
}

async function unmount(target: string): Promise<void> {
  await runTool('umount', ['--', target]);
  await rm(target, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Makes the check in a volume that has none: a lower layer with a file `gone` and a directory
 * `opaque` holding `hidden`, mounted with an empty upper layer, in which the file is deleted
 * and the directory replaced: the kernel writes a whiteout (a 0/0 character device) and a
 * `trusted.overlay.opaque` attribute into the upper layer, as overlay2 does in Docker's layers.
 */
async function makeCheck(check: string, target: string): Promise<string | null> {
  await rm(check, { recursive: true, force: true });
  for (const dir of ['lower/opaque', 'upper', 'work']) await mkdir(join(check, dir), { recursive: true });
  await writeFile(join(check, 'lower/gone'), 'deleted in the upper layer\n');
  await writeFile(join(check, 'lower/opaque/hidden'), 'hidden by an opaque directory\n');
  const failed = await mountOverlay(check, target);
  if (failed) return failed;
  try {
    await rm(join(target, 'gone'));
    await rm(join(target, 'opaque'), { recursive: true });
    await mkdir(join(target, 'opaque'));
  } finally {
    await unmount(target);
  }
  const whiteout = await lstat(join(check, 'upper/gone')).catch(() => null);
  return whiteout?.isCharacterDevice() && whiteout.rdev === 0
    ? null
    : 'overlayfs wrote no whiteout (0/0 character device) into its upper layer';
}

/** What the check finds through a fresh mount of its layers: `null` when the copy kept both marks. */
async function readCheck(check: string, target: string): Promise<string | null> {
  const failed = await mountOverlay(check, target);
  if (failed) return failed;
  try {
    const lost: string[] = [];
    if (existsSync(join(target, 'gone')))
      lost.push('device files (overlay2 marks deleted files with 0/0 character devices)');
    if (existsSync(join(target, 'opaque/hidden')))
      lost.push('extended attributes (overlay2 marks replaced directories with trusted.overlay.opaque)');
    return lost.length > 0 ? `the copy of the volume lost ${lost.join(' and ')}` : null;
  } finally {
    await unmount(target);
  }
}

/**
 * Checks that a container engine's overlay2 layers can live in this fork and come back as they
 * were written in the next job's fork. Deleted files come back when a copy drops whiteouts or
 * `trusted.overlay.*` attributes, and overlay2 cannot use FUSE (zfs-fuse) or overlayfs as its
 * backing filesystem; both are silent until a container runs. So:
 *
 * - the fork's filesystem type (`statfs`) must not be FUSE or overlayfs;
 * - when the fork has the check of an earlier job (`overlay-check/`, copied with the version),
 *   its layers are mounted as overlayfs, and the deleted file and the hidden directory entry
 *   must still be invisible: the backend's copy kept the device file and the attribute;
 * - otherwise (an empty fork, the first use) the check is made: an overlay mount whose upper
 *   layer is on the fork, a deletion and a directory replaced in it, which also shows that the
 *   filesystem can hold overlayfs upper layers (OpenZFS before 2.2 cannot).
 *
 * Needs root (mount). Costs two small mounts.
 *
 * @param mountPath - the fork's directory
 * @param scratch - an empty directory of the caller's for the mount point (not in the fork)
 * @throws `BACKEND_UNAVAILABLE` with the reason when overlay2 cannot be used on this fork
 */
export async function checkOverlayFit(mountPath: string, scratch: string): Promise<void> {
  const details = { mountPath };
  const fs = await statfs(mountPath).catch(() => null);
  const unfit = fs ? UNFIT_FILESYSTEMS[Number(fs.type)] : undefined;
  if (unfit)
    throw refuse(
      `The volume is on ${unfit}, where Docker's overlay2 cannot keep its layers; use the btrfs backend, OpenZFS 2.2 or later (not zfs-fuse), or the dir backend on a local filesystem.`,
      details,
    );
  const check = join(mountPath, OVERLAY_CHECK_DIR);
  const target = join(scratch, 'overlay-check');
  const existing = existsSync(join(check, 'upper'));
  const problem = existing ? await readCheck(check, target) : await makeCheck(check, target);
  if (problem)
    throw refuse(
      existing
        ? `Docker's layers cannot be cached on this backend: ${problem}, so files that a later image layer deleted would come back. Use a backend whose copies keep device files and extended attributes (btrfs, zfs, or dir as root with GNU cp).`
        : `Docker's overlay2 cannot keep its layers on this volume: ${problem}.`,
      { ...details, problem },
    );
}
