/**
 * A btrfs filesystem on a sparse loop file, made for one test suite and removed after it. Use
 * it inside a suite gated with `describeWith('btrfs', …)`. Everything it makes lives in one
 * `cachevol-test-*` directory under the system temp directory (CI's clean-up removes what a
 * killed run left there), and a failure half-way removes what was made so far.
 *
 * Test files import this relatively; it is part of no published package.
 */
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';
import { retrying } from './wait.js';

/** A mounted loopback btrfs. */
export interface LoopBtrfs {
  /** The directory holding the image and the mount point. */
  readonly dir: string;
  /** Where the filesystem is mounted. */
  readonly mountPoint: string;
  /** The loop device. */
  readonly device: string;
  /** Unmounts (waiting while the mount is busy), detaches the loop device, removes the files. */
  destroy(): Promise<void>;
}

/** Options of {@link createLoopBtrfs}. */
export interface LoopBtrfsOptions {
  /**
   * The directory's name prefix; keep it `cachevol-test-*`.
   * @defaultValue `"cachevol-test-btrfs-"`
   */
  prefix?: string;
  /**
   * The image's size in bytes.
   * @defaultValue 1 GiB
   */
  sizeBytes?: number;
}

const busy = (error: unknown) => /busy/i.test(String(error));

/**
 * Makes a sparse image, a btrfs on it, a loop device and a mount.
 *
 * @param options - name prefix and size
 */
export async function createLoopBtrfs(options: LoopBtrfsOptions = {}): Promise<LoopBtrfs> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? 'cachevol-test-btrfs-'));
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'mnt');
  let device: string | undefined;
  let mounted = false;

  const destroy = async (): Promise<void> => {
    if (mounted) {
      // A mount can stay busy for a moment after its last user (the cleaner, a closing file).
      await retrying(() => run('umount', [mountPoint]), busy, {
        what: `umount ${mountPoint}`,
        timeoutMs: 60_000,
      });
      mounted = false;
    }
    if (device) {
      await run('losetup', ['-d', device]);
      device = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const handle = await open(image, 'w');
    await handle.truncate(options.sizeBytes ?? 1 << 30);
    await handle.close();
    await run('mkfs.btrfs', ['-q', image]);
    device = (await run('losetup', ['--find', '--show', image])).trim();
    await mkdir(mountPoint);
    // nobarrier: transaction commits do not flush the loop file to disk. The tests simulate
    // process crashes, not power loss, and flushes would dominate their run time.
    await run('mount', ['-t', 'btrfs', '-o', 'nobarrier', device, mountPoint]);
    mounted = true;
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  return { dir, mountPoint, device, destroy };
}
