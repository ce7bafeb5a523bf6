import { afterAll, beforeAll } from 'vitest';
import { createFilePool, type FilePool, zfsWhenIdle } from '../../../test-support/file-pool.js';
import { run as runTool } from '../../../test-support/run.js';

/**
 * Runs `zfs` or `zpool` (argument arrays, no shell) and returns stdout; throws on failure,
 * with stderr in the message.
 *
 * @param program - `zfs` or `zpool`
 * @param args - the arguments
 */
export function run(program: 'zfs' | 'zpool', args: string[]): Promise<string> {
  return runTool(program, args);
}

/** A pool of the current suite, made on a file in a temporary directory. */
export interface TestPool {
  /** The pool's name, `cachevol-test-*`. */
  readonly name: string;
  /** Its temporary directory (the vdev file and every mountpoint are under it). */
  readonly dir: string;
  /** A new, empty child filesystem for one test: `<pool>/c<n>`. */
  newDataset(): Promise<string>;
  /** Destroys a child filesystem with everything under it. */
  destroyDataset(dataset: string): Promise<void>;
  /** Every dataset and snapshot under `dataset` (itself included), sorted. */
  names(dataset: string): Promise<string[]>;
  /**
   * A property of a dataset, as exact bytes or text (`zfs get -H -p`).
   * @param dataset - the dataset
   * @param property - e.g. `used`
   */
  get(dataset: string, property: string): Promise<string>;
  /**
   * Returns once everything done so far is in a synced transaction group, so that space
   * figures (`used`, `referenced`) account for it: sets a user property on the pool's root
   * dataset, which ZFS does in syncing context and waits for.
   */
  settle(): Promise<void>;
}

/**
 * Creates a pool for the current suite in `beforeAll` (a sparse file vdev in a
 * `cachevol-test-*` temporary directory, mounted under it) and destroys it in `afterAll`. Call
 * it inside a suite gated with `describeWith('zfs', …)`.
 *
 * @param sizeMiB - the vdev file's size (zfs-fuse needs at least 64)
 */
export function useTestPool(sizeMiB = 256): TestPool {
  let pool: FilePool | undefined;
  let next = 0;
  let settles = 0;
  const current = (): FilePool => {
    if (!pool) throw new Error('no test pool: useTestPool() works inside a suite, after beforeAll');
    return pool;
  };
  beforeAll(async () => {
    pool = await createFilePool({ sizeMiB });
  });
  afterAll(async () => {
    await pool?.destroy();
  });
  return {
    get name() {
      return current().name;
    },
    get dir() {
      return current().dir;
    },
    async newDataset() {
      next += 1;
      const dataset = `${current().name}/c${next}`;
      await run('zfs', ['create', dataset]);
      return dataset;
    },
    async destroyDataset(dataset) {
      await zfsWhenIdle('zfs', ['destroy', '-R', '-f', dataset]);
    },
    async names(dataset) {
      const out = await run('zfs', ['list', '-H', '-o', 'name', '-t', 'filesystem,snapshot', '-r', dataset]);
      return out.split('\n').filter(Boolean).sort();
    },
    async get(dataset, property) {
      return (await run('zfs', ['get', '-H', '-p', '-o', 'value', property, dataset])).trim();
    },
    async settle() {
      settles += 1;
      await run('zfs', ['set', `cachevol-test:settle=${settles}`, current().name]);
    },
  };
}
