import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachevol, ensureBuilt, sandbox as sandboxIn, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('bounded'));
});
afterAll(() => cleanup());

const sandbox = (name: string) => sandboxIn(base, name);

/** A node one-liner that prints what `deps/lock.txt` holds, then writes `value` there. */
const job = (value: string) => [
  'run',
  '--cache',
  'deps',
  '--name',
  'deps',
  '--',
  process.execPath,
  '-e',
  `const fs = require('fs'); const f = 'deps/lock.txt'; console.log('saw ' + (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : 'none')); fs.writeFileSync(f, ${JSON.stringify(value)})`,
];

const versionsOnDisk = async (root: string) => (await readdir(join(root, 'data', 'versions'))).sort();

describe('cachevol run: disk stays bounded, and lost version data never fails a job', () => {
  it('keeps the head and one previous version per volume by default', async () => {
    const { root, run } = await sandbox('bounded');
    for (const value of ['one', 'two', 'three', 'four']) {
      const result = await run(job(value));
      expect(result.code, result.stderr).toBe(0);
    }
    expect(await versionsOnDisk(root)).toHaveLength(2);
    const [volume] = JSON.parse((await run(['ls', '--json'])).stdout).volumes;
    expect(volume.versions.map((v: { seq: number }) => v.seq).sort()).toEqual([3, 4]);
    expect((await run(job('five'))).stdout).toContain('saw four');
  });

  it('takes the limits from --versions-per-volume, CACHEVOL_VERSIONS_PER_VOLUME and --retention', async () => {
    const { root, run, work } = await sandbox('limits');
    for (const value of ['one', 'two', 'three'])
      expect((await run(['--versions-per-volume', '1', ...job(value)])).code).toBe(0);
    expect(await versionsOnDisk(root)).toHaveLength(1);
    const env = { CACHEVOL_ROOT: root, CACHEVOL_VERSIONS_PER_VOLUME: '3' };
    for (const value of ['four', 'five', 'six'])
      expect((await cachevol(job(value), { cwd: work, env })).code).toBe(0);
    expect(await versionsOnDisk(root)).toHaveLength(3);
    // gc with a retention shorter than the versions' idle time removes them all.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const gc = await run(['--retention', '1s', 'gc', '--json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(await versionsOnDisk(root)).toEqual([]);
    const bad = await run(['--retention', '14', 'gc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--retention: invalid value "14"; write a time with its unit');
  });

  it('--fail-on-miss fails a job whose volume has no usable version, without running it', async () => {
    const { run } = await sandbox('fail-on-miss');
    const missed = await run(['run', '--fail-on-miss', ...job('one').slice(1)]);
    expect(missed.code).toBe(1);
    expect(missed.stdout).not.toContain('saw');
    expect(missed.stderr).toMatch(/no usable version and failOnMiss is set/);
    expect((await run(job('one'))).code).toBe(0);
    const hit = await run(['run', '--fail-on-miss', ...job('two').slice(1)]);
    expect(hit.code, hit.stderr).toBe(0);
    expect(hit.stdout).toContain('saw one');
  });

  it('a version whose data was deleted is passed over with a warning; the job runs and succeeds', async () => {
    const { root, run } = await sandbox('lost');
    expect((await run(job('one'))).code).toBe(0);
    expect((await run(job('two'))).code).toBe(0);
    const headId = JSON.parse((await run(['ls', '--json'])).stdout).volumes[0].headId as string;
    await rm(join(root, 'data', 'versions', headId), { recursive: true });

    const third = await run(job('three'));
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain('saw one');
    expect(third.stderr).toMatch(new RegExp(`Version "${headId}" of volume "deps".* has no data any more`));

    // Every version gone: a miss, still exit 0.
    for (const id of await versionsOnDisk(root))
      await rm(join(root, 'data', 'versions', id), { recursive: true });
    const fourth = await run(job('four'));
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(fourth.stdout).toContain('saw none');
  });
});
