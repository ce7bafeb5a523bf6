import { createHash } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '@cachevol/core';
import { describeIfAvailable, noise } from '@cachevol/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  freeBytes,
  type LoopExt4,
  loopExt4Unavailable,
  makeLoopExt4,
} from '../../../test-support/loop-ext4.js';
import { createDirBackend } from '../src/index.js';
import { rejection } from './helpers.js';

const unavailable = loopExt4Unavailable();
const fork = { capacityBytes: 1 << 30 };
const MIB = 1 << 20;

/** Writes `chunk` to `path` until the filesystem is full; returns the bytes written. */
function fillWith(path: string, chunk: Buffer): number {
  const fd = openSync(path, 'a');
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

/** A digest of the regular files directly in `dir`, by name and content. */
async function digest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).sort()) hash.update(name).update(await readFile(join(dir, name)));
  return hash.digest('hex');
}

describeIfAvailable(
  unavailable ?? undefined,
  'the dir backend on a full disk (a small loopback ext4)',
  () => {
    let fs: LoopExt4 | undefined;
    const mountPoint = () => {
      if (!fs) throw new Error('no loopback ext4');
      return fs.mountPoint;
    };
    beforeEach(() => {
      fs = makeLoopExt4(24);
    });
    afterEach(() => {
      fs?.destroy();
      fs = undefined;
    });

    it('fails a fork that runs out of space with ENOSPC, leaves nothing of it, frees the space and keeps the head', async () => {
      const backend = createDirBackend({ root: join(mountPoint(), 'volumes'), reflink: 'never' });
      const a = await backend.createFork('f1', fork);
      for (let i = 0; i < 14; i++) await writeFile(join(a.mountPath, `part-${i}`), noise(MIB, i));
      await backend.commitFork('f1', 'v1');
      const version = join(backend.root, 'versions', 'v1');
      const head = await digest(version);
      const before = await freeBytes(backend.root);
      expect(before, 'the version does not fit twice').toBeLessThan(14 * MIB);

      const seen: Progress[] = [];
      const error = await rejection(
        backend.forkVersion('f2', 'v1', { ...fork, onProgress: (p) => seen.push(p) }),
      );
      expect(error.code).toBe('BACKEND_FAILED');
      expect(error.details.errno).toBe('ENOSPC');
      expect(error.details.command).toBe('cp');
      expect(error.message).toContain('No space left on device');
      expect(error.message).toContain('The filesystem is full');
      expect(seen[0]).toEqual({ doneBytes: 0, totalBytes: null });

      expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
      for (const area of ['tmp', 'trash', 'forks', 'bases'])
        expect(await readdir(join(backend.root, area)), area).toEqual([]);
      expect(await freeBytes(backend.root), 'the partial copy is gone').toBeGreaterThanOrEqual(
        before - 64 * 1024,
      );
      expect(await digest(version), 'the head is intact').toBe(head);
      // The head still serves forks once there is room again.
      await backend.removeVersion('v1');
      expect(await backend.list()).toEqual([]);
    });

    it('discards a fork that filled the disk, even where the move into trash/ needs space, and frees it', async () => {
      const backend = createDirBackend({ root: join(mountPoint(), 'volumes') });
      const a = await backend.createFork('f1', fork);
      // The job fills the disk, to the last block.
      const written =
        fillWith(join(a.mountPath, 'runaway.log'), Buffer.alloc(64 * 1024, 1)) +
        fillWith(join(a.mountPath, 'runaway.log'), Buffer.alloc(1024, 2));
      expect(written).toBeGreaterThan(16 * MIB);
      // trash/ holds entries the backend does not own until its last block is full, so that
      // moving the fork there needs a new block.
      let junk = 0;
      for (;;) {
        try {
          writeFileSync(join(backend.root, 'trash', `not-ours-${junk}`), '');
          junk++;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
      expect(junk).toBeGreaterThan(0);
      const before = await freeBytes(backend.root);

      await backend.discardFork('f1');
      expect(await backend.list()).toEqual([]);
      expect(await readdir(join(backend.root, 'forks'))).toEqual([]);
      expect((await freeBytes(backend.root)) - before, "the fork's space is back").toBeGreaterThan(16 * MIB);
      expect((await readdir(join(backend.root, 'trash'))).length, 'what is not ours stays').toBe(junk);
    });
  },
);
