import { mkdir, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';
import { describeIf, missing } from './helpers/gate.js';

const sh = (file: string, args: string[]) => execa(file, args, { env: { LC_ALL: 'C' } });

/** Reads `c/value` (or "none"), prints it, then writes `value` there. */
const readThenWrite = (value: string) => [
  process.execPath,
  '-e',
  `const fs = require('fs'); console.log('saw ' + (fs.existsSync('c/value') ? fs.readFileSync('c/value', 'utf8') : 'none')); fs.writeFileSync('c/value', ${JSON.stringify(value)})`,
];

/** Two runs and a failing one on a real backend: miss, hit, abandon keeps the head. */
async function missThenHit(
  run: (args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>,
) {
  const first = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('one')]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toBe('saw none\n');
  expect(first.stderr).toMatch(/default\/deps: miss/);
  const failing = await run([
    'run',
    '-c',
    'c',
    '--name',
    'deps',
    '--',
    process.execPath,
    '-e',
    'process.exit(3)',
  ]);
  expect(failing.code).toBe(3);
  const second = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('two')]);
  expect(second.stdout).toBe('saw one\n');
  expect(second.stderr).toMatch(/default\/deps: hit/);
  const gc = await run(['gc', '--json']);
  expect(gc.code, gc.stderr).toBe(0);
  const stats = JSON.parse((await run(['stats', '--json'])).stdout);
  expect(stats[0]).toMatchObject({ counts: { hit: 2, miss: 1 }, versions: 2, liveForks: 0 });
}

describeIf(
  'cachevol --backend btrfs on a loopback btrfs',
  missing(['mkfs.btrfs', 'btrfs', 'mount', 'umount'], 'btrfs-progs'),
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let mnt: string;
    beforeAll(async () => {
      ensureBuilt(['backend-btrfs']);
      ({ dir, cleanup } = await tempDir('test-btrfs'));
      mnt = join(dir, 'cachevol-test-btrfs-cli');
      await mkdir(mnt);
      const image = join(dir, 'btrfs.img');
      await sh('touch', [image]);
      await truncate(image, 256 * 2 ** 20);
      await sh('mkfs.btrfs', ['-q', image]);
      await sh('mount', ['-o', 'loop', image, mnt]);
    });
    afterAll(async () => {
      await sh('umount', [mnt]).catch(() => sh('umount', ['-l', mnt]).catch(() => undefined));
      await cleanup();
    });

    it('runs, commits and re-attaches through btrfs snapshots', async () => {
      const work = join(dir, 'work');
      await mkdir(work);
      await missThenHit((args) =>
        cachevol(['--backend', 'btrfs', ...args], {
          cwd: work,
          env: { CACHEVOL_ROOT: join(mnt, 'cachevol') },
        }),
      );
    });
  },
);

describeIf(
  'cachevol --backend zfs on a file-backed pool',
  missing(['zpool', 'zfs'], 'zfs-fuse or zfsutils-linux'),
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let pool: string;
    beforeAll(async () => {
      ensureBuilt(['backend-zfs']);
      ({ dir, cleanup } = await tempDir('test-zfs'));
      pool = `cachevol-test-cli-${process.pid}`;
      const vdev = join(dir, 'pool.img');
      await sh('touch', [vdev]);
      await truncate(vdev, 128 * 2 ** 20);
      await sh('zpool', ['create', '-f', '-m', join(dir, 'mnt'), pool, vdev]);
      await sh('zfs', ['create', `${pool}/cv`]);
    });
    afterAll(async () => {
      // zfs-fuse may report the pool busy for a moment after the last unmount: retry, then
      // fail loudly rather than leak the pool.
      for (let attempt = 1; ; attempt++) {
        try {
          await sh('zpool', ['destroy', '-f', pool]);
          break;
        } catch (error) {
          if (attempt === 10) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      await rm(join(dir, 'mnt'), { recursive: true, force: true }).catch(() => undefined);
      await cleanup();
    });

    it('runs, commits and re-attaches through zfs clones', async () => {
      const work = join(dir, 'work');
      await mkdir(work);
      await missThenHit((args) =>
        cachevol(['--backend', 'zfs', '--dataset', `${pool}/cv`, ...args], {
          cwd: work,
          env: { CACHEVOL_ROOT: join(dir, 'root') },
        }),
      );
    });
  },
);
