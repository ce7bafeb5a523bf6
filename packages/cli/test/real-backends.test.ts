import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFilePool, type FilePool } from '../../../test-support/file-pool.js';
import { describeWith } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { run as runTool } from '../../../test-support/run.js';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

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
  const stats = JSON.parse((await run(['stats', '--json'])).stdout).volumes;
  expect(stats[0]).toMatchObject({ counts: { hit: 2, miss: 1 }, versions: 2, liveForks: 0 });
}

describeWith('btrfs', 'cachevol --backend btrfs on a loopback btrfs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let fs: LoopBtrfs | undefined;
  beforeAll(async () => {
    ensureBuilt(['backend-btrfs']);
    ({ dir, cleanup } = await tempDir('test-btrfs'));
    fs = await createLoopBtrfs({ prefix: 'cachevol-test-btrfs-cli-', sizeBytes: 256 * 2 ** 20 });
  });
  afterAll(async () => {
    await fs?.destroy();
    await cleanup?.();
  });

  it('runs, commits and re-attaches through btrfs snapshots', async () => {
    const work = join(dir, 'work');
    await mkdir(work);
    await missThenHit((args) =>
      cachevol(['--backend', 'btrfs', ...args], {
        cwd: work,
        env: { CACHEVOL_ROOT: join(fs?.mountPoint ?? '', 'cachevol') },
      }),
    );
  });
});

describeWith('zfs', 'cachevol --backend zfs on a file-backed pool', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pool: FilePool | undefined;
  beforeAll(async () => {
    ensureBuilt(['backend-zfs']);
    ({ dir, cleanup } = await tempDir('test-zfs'));
    pool = await createFilePool({ prefix: 'cachevol-test-cli-', sizeMiB: 128 });
    await runTool('zfs', ['create', `${pool.name}/cv`]);
  });
  afterAll(async () => {
    await pool?.destroy();
    await cleanup?.();
  });

  it('runs, commits and re-attaches through zfs clones', async () => {
    const work = join(dir, 'work');
    await mkdir(work);
    await missThenHit((args) =>
      cachevol(['--backend', 'zfs', '--dataset', `${pool?.name}/cv`, ...args], {
        cwd: work,
        env: { CACHEVOL_ROOT: join(dir, 'root') },
      }),
    );
  });
});
