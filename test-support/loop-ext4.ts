import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small loopback ext4 filesystem made for one test. */
export interface LoopExt4 {
  /** Where it is mounted. */
  mountPoint: string;
  /** Unmounts it (the loop device goes with it) and deletes the image. */
  destroy(): void;
}

/** Why a loopback ext4 cannot be made here, or `null` when it can. */
export function loopExt4Unavailable(): string | null {
  if (process.platform !== 'linux') return 'loopback ext4 needs Linux';
  if (process.getuid?.() !== 0) return 'loopback ext4 needs root (losetup, mount)';
  if (spawnSync('mkfs.ext4', ['-V'], { stdio: 'ignore' }).error)
    return 'mkfs.ext4 not found: install e2fsprogs';
  return null;
}

/**
 * Makes and mounts a small ext4 filesystem on a sparse loop file under the system temp
 * directory, named `cachevol-test-copy-*` so CI's clean-up finds it if a run is killed. It has
 * 1 KiB blocks, no journal and no blocks reserved for root, so that it fills up exactly.
 *
 * @param sizeMiB - the image size
 */
export function makeLoopExt4(sizeMiB: number): LoopExt4 {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-copy-ext4-'));
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'mnt');
  writeFileSync(image, '');
  truncateSync(image, sizeMiB << 20);
  mkdirSync(mountPoint);
  try {
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', '-b', '1024', '-O', '^has_journal', image], {
      stdio: 'pipe',
    });
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    mountPoint,
    destroy() {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Free bytes on the filesystem holding `path`, after flushing it.
 *
 * @param path - a path on the filesystem
 */
export async function freeBytes(path: string): Promise<number> {
  execFileSync('sync', ['-f', path]);
  const s = await statfs(path);
  return s.bfree * s.bsize;
}
