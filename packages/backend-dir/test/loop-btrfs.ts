import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback btrfs filesystem made for one test suite. */
export interface LoopBtrfs {
  /** Where it is mounted. */
  mountPoint: string;
  /** Unmounts it (the loop device goes with it) and deletes the image. */
  destroy(): void;
}

function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a loopback btrfs cannot be made here, or `null` when it can. */
export function loopBtrfsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'loopback btrfs needs Linux';
  if (process.getuid?.() !== 0) return 'loopback btrfs needs root (losetup, mount)';
  if (!runs('mkfs.btrfs', ['--version'])) return 'mkfs.btrfs not found: install btrfs-progs';
  if (!runs('losetup', ['--version'])) return 'losetup not found: install mount';
  return null;
}

/**
 * Makes and mounts a sparse loopback btrfs filesystem under the system temp directory, named
 * `cachevol-test-*` so CI's clean-up finds it if a run is killed.
 *
 * @param sizeMiB - the image size
 */
export function makeLoopBtrfs(sizeMiB = 512): LoopBtrfs {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-dirbtrfs-'));
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'mnt');
  writeFileSync(image, '');
  truncateSync(image, sizeMiB << 20);
  mkdirSync(mountPoint);
  try {
    execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'pipe' });
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
