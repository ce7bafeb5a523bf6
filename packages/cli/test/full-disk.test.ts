import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeWith, unavailable } from '../../../test-support/gate.js';
import {
  freeBytes,
  type LoopExt4,
  loopExt4Unavailable,
  makeLoopExt4,
} from '../../../test-support/loop-ext4.js';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

/**
 * A job that fills the disk holding the cache root (the dir backend and the state database on
 * one small ext4, the working directory elsewhere), as a build that writes too much does. The
 * cache must not fail the job, must not lose the head, and must not stay wedged afterwards.
 */

/** A node script: writes `bytes` of data to `file` (until the disk is full when `bytes` is 0), then exits `code`. */
function writer(file: string, bytes: number, code = 0): string[] {
  const script = `
    const fs = require('fs');
    const chunk = Buffer.alloc(1 << 20, 7);
    const fd = fs.openSync(${JSON.stringify(file)}, 'w');
    let written = 0;
    try { while (${bytes} === 0 || written < ${bytes}) written += fs.writeSync(fd, chunk); }
    catch (error) { if (error.code !== 'ENOSPC') throw error; console.log('disk full after', written); }
    fs.closeSync(fd);
    process.exit(${code});`;
  return [process.execPath, '-e', script];
}

interface Volume {
  headId: string | null;
  versions: { id: string }[];
  forks: { id: string; state: string }[];
}

/** The forks not ended. */
const live = (volume: Volume) =>
  volume.forks.filter((f) => f.state !== 'committed' && f.state !== 'abandoned');

describeWith(
  'root',
  'cachevol run when the job fills the disk that holds the cache',
  () => {
    let fs: LoopExt4;
    let work: string;
    let cleanup: () => Promise<void>;
    const run = (args: string[]) =>
      cachevol(args, { cwd: work, env: { CACHEVOL_ROOT: join(fs.mountPoint, 'root') } });
    const volume = async (): Promise<Volume> => JSON.parse((await run(['ls', '--json'])).stdout).volumes[0];
    const job = (command: string[], ...flags: string[]) =>
      run(['run', '--name', 'deps', '--cache', 'deps', ...flags, '--', ...command]);

    beforeAll(() => ensureBuilt());
    beforeEach(async () => {
      fs = makeLoopExt4(48);
      ({ dir: work, cleanup } = await tempDir('full-disk'));
      await mkdir(work, { recursive: true });
    });
    afterEach(async () => {
      fs?.destroy();
      await cleanup();
    });

    it('a job fills the disk: its exit code passes, no fork is left, and the next job runs', async () => {
      const seeded = await job(writer('deps/seed', 6 << 20));
      expect(seeded.code, seeded.stderr).toBe(0);
      const { headId } = await volume();
      const before = await freeBytes(fs.mountPoint);

      const filled = await job(writer('deps/big', 0));
      expect(filled.stdout).toContain('disk full after');
      expect(filled.code, filled.stderr).toBe(0);
      const after = await volume();
      expect(live(after)).toEqual([]);
      const next = await job([process.execPath, '-e', 'process.exit(3)']);
      expect(next.code, next.stderr).toBe(3);
      expect(live(await volume())).toEqual([]);
      if (after.headId === headId) {
        // The commit could not be recorded: the fork was abandoned (its space freed), the head
        // kept, and the next job is a hit.
        expect(filled.stderr).toMatch(/disk is full/);
        expect(await freeBytes(fs.mountPoint)).toBeGreaterThan(before - (1 << 20));
        expect(next.stderr).toMatch(/deps: hit/);
      } else {
        // The commit went through: the new head fills the disk, so a copy of it cannot be made
        // and the next job runs uncached, with a warning.
        expect(next.stderr).toMatch(/deps: not cached this run: .*No space left on device/);
      }
    });

    it('attach fails (no room to copy the version): the job runs uncached, with a warning', async () => {
      // A version too big to copy twice on this disk.
      const big = await job(writer('deps/big', 26 << 20));
      expect(big.code, big.stderr).toBe(0);
      const { headId } = await volume();

      const uncached = await job(writer('out.txt', 1024, 5));
      expect(uncached.code, uncached.stderr).toBe(5);
      expect(uncached.stderr).toMatch(/default\/deps: not cached this run: .*No space left on device/);
      expect(await readdir(work)).toContain('out.txt');
      const after = await volume();
      expect(after.headId).toBe(headId);
      expect(live(after)).toEqual([]);

      // --strict opts in to failing: the command does not run.
      const strict = await job([process.execPath, '-e', 'console.log("RAN")'], '--strict');
      expect(strict.code).toBe(1);
      expect(strict.stdout).not.toContain('RAN');
      expect(strict.stderr).toMatch(/No space left on device/);
    });
  },
  { reason: unavailable('root') ?? loopExt4Unavailable() ?? undefined },
);
