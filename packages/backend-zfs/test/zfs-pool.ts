import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, it } from 'vitest';

/**
 * Why real ZFS tests cannot run here, or `undefined` when they can: they need root (to create
 * a pool on a file), the `zpool` and `zfs` programs, and a running ZFS (the zfs-fuse daemon or
 * the OpenZFS module).
 */
export function zfsProblem(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux with ZFS, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root to create a ZFS pool on a file';
  for (const program of ['zpool', 'zfs']) {
    const probe = spawnSync(program, ['list', '-H', '-o', 'name'], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      return `\`${program}\` not found: apt-get install zfs-fuse (then start \`zfs-fuse\`) or zfsutils-linux`;
    }
    if (probe.status !== 0) {
      return `ZFS is not running (\`${program} list\` said: ${(probe.stderr || String(probe.error)).trim().split('\n').join(' ')}): start \`zfs-fuse\` or \`modprobe zfs\``;
    }
  }
  return undefined;
}

/**
 * A `describe` for suites on a real pool. When ZFS cannot run: under `CI=true` the suite holds
 * one failing test that gives the reason; elsewhere it is skipped with the reason in its title.
 *
 * @param name - the suite's name
 * @param body - the suite
 */
export function describeZfs(name: string, body: () => void): void {
  const problem = zfsProblem();
  if (problem !== undefined && process.env.CI === 'true') {
    describe(name, () => {
      it('has ZFS to run on', () => {
        throw new Error(`The ZFS tests must run under CI=true but cannot: ${problem}`);
      });
    });
    return;
  }
  describe.skipIf(problem !== undefined)(
    problem === undefined ? name : `${name} (skipped: ${problem})`,
    body,
  );
}

/**
 * Runs `zfs` or `zpool` (argument arrays, no shell) and returns stdout; throws on failure.
 *
 * @param program - `zfs` or `zpool`
 * @param args - the arguments
 */
export async function run(program: 'zfs' | 'zpool', args: string[]): Promise<string> {
  const result = await execa(program, args, { env: { LC_ALL: 'C' }, reject: false });
  if (result.exitCode !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/**
 * {@link run}, retried for a few seconds while ZFS says "busy" (zfs-fuse releases unmounted
 * filesystems asynchronously).
 *
 * @param program - `zfs` or `zpool`
 * @param args - the arguments
 */
async function runRetryingBusy(program: 'zfs' | 'zpool', args: string[]): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await run(program, args);
    } catch (error) {
      if (attempt >= 40 || !/busy/.test(String(error))) throw error;
      await sleep(100);
    }
  }
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
}

/**
 * Creates a pool for the current suite in `beforeAll` (a sparse file vdev in a
 * `cachevol-test-*` temporary directory, mounted under it) and destroys it in `afterAll`.
 *
 * @param sizeMiB - the vdev file's size (zfs-fuse needs at least 64)
 */
export function useTestPool(sizeMiB = 256): TestPool {
  let name = '';
  let dir = '';
  let next = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachevol-test-'));
    name = basename(dir);
    const vdev = join(dir, 'pool.img');
    await writeFile(vdev, '');
    await truncate(vdev, sizeMiB * 1024 * 1024);
    await run('zpool', ['create', '-m', join(dir, 'mnt'), name, vdev]);
  });
  afterAll(async () => {
    if (name) await runRetryingBusy('zpool', ['destroy', '-f', name]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get name() {
      return name;
    },
    get dir() {
      return dir;
    },
    async newDataset() {
      next += 1;
      const dataset = `${name}/c${next}`;
      await run('zfs', ['create', dataset]);
      return dataset;
    },
    async destroyDataset(dataset) {
      await runRetryingBusy('zfs', ['destroy', '-R', '-f', dataset]);
    },
    async names(dataset) {
      const out = await run('zfs', ['list', '-H', '-o', 'name', '-t', 'filesystem,snapshot', '-r', dataset]);
      return out.split('\n').filter(Boolean).sort();
    },
    async get(dataset, property) {
      return (await run('zfs', ['get', '-H', '-p', '-o', 'value', property, dataset])).trim();
    },
  };
}
