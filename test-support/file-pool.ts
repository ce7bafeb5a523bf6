/**
 * A ZFS pool on a sparse file, made for one test suite and destroyed after it. Use it inside a
 * suite gated with `describeWith('zfs', …)`. The vdev and every mount point live in one
 * `cachevol-test-*` directory under the system temp directory, named like the pool (CI's
 * clean-up destroys such pools and directories after a killed run), and a failure half-way
 * removes what was made so far.
 *
 * Test files import this relatively; it is part of no published package.
 */
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { run } from './run.js';
import { retrying } from './wait.js';

/** A pool on a file. */
export interface FilePool {
  /** The pool's name, the same as its directory's. */
  readonly name: string;
  /** The directory holding the vdev file and, under `mnt/`, the mount points. */
  readonly dir: string;
  /** Destroys the pool (waiting while ZFS says it is busy) and removes the directory. */
  destroy(): Promise<void>;
}

/**
 * `zfs` or `zpool` (argument arrays, no shell), retried while ZFS says "busy" (zfs-fuse releases unmounted filesystems
 * asynchronously, and more slowly on a loaded machine).
 *
 * @param program - `zfs` or `zpool`
 * @param args - the arguments
 */
export function zfsWhenIdle(program: 'zfs' | 'zpool', args: string[]): Promise<string> {
  return retrying(
    () => run(program, args),
    (error) => /busy/.test(String(error)),
    {
      what: `${program} ${args.join(' ')} to find nothing busy`,
      timeoutMs: 60_000,
    },
  );
}

/** Options of {@link createFilePool}. */
export interface FilePoolOptions {
  /**
   * The name prefix of the pool and its directory; keep it `cachevol-test-*`.
   * @defaultValue `"cachevol-test-"`
   */
  prefix?: string;
  /**
   * The vdev file's size (zfs-fuse needs at least 64).
   * @defaultValue 256
   */
  sizeMiB?: number;
}

/**
 * Creates a pool on a sparse file, mounted under its directory.
 *
 * @param options - name prefix and size
 */
export async function createFilePool(options: FilePoolOptions = {}): Promise<FilePool> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? 'cachevol-test-'));
  const name = basename(dir);
  let created = false;
  const destroy = async (): Promise<void> => {
    if (created) {
      await zfsWhenIdle('zpool', ['destroy', '-f', name]);
      created = false;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const vdev = join(dir, 'pool.img');
    await writeFile(vdev, '');
    await truncate(vdev, (options.sizeMiB ?? 256) * 1024 * 1024);
    await run('zpool', ['create', '-m', join(dir, 'mnt'), name, vdev]);
    created = true;
  } catch (error) {
    // zpool create can fail after making the pool (its mount failed, say): destroy it too.
    created = await run('zpool', ['list', '-H', '-o', 'name', name]).then(
      () => true,
      () => false,
    );
    await destroy().catch(() => undefined);
    throw error;
  }
  return { name, dir, destroy };
}
