import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumes, createMemoryStore, type VersionSource } from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createBtrfsBackend } from '../src/index.js';
import { createLoopBtrfs, type LoopBtrfs, removeAll } from './helpers/loop-btrfs.js';

const filesystems: LoopBtrfs[] = [];

describeWith('btrfs', 'two hosts, each on its own btrfs, sharing one store', () => {
  beforeAll(async () => {
    filesystems.push(await createLoopBtrfs(), await createLoopBtrfs());
  });
  afterAll(async () => {
    for (const fs of filesystems.splice(0)) await fs.destroy();
  });

  it(
    'a commit on A reaches B by an incremental stream, and B attaches it as a hit',
    async () => {
      const store = createMemoryStore();
      const [fsA, fsB] = filesystems as [LoopBtrfs, LoopBtrfs];
      const backendA = createBtrfsBackend({ root: await fsA.freshRoot() });
      const backendB = createBtrfsBackend({ root: await fsB.freshRoot() });
      const a = new CacheVolumes({ backend: backendA, store, host: 'a' });
      const b = new CacheVolumes({ backend: backendB, store, host: 'b' });
      const fromA: VersionSource = { open: (request) => a.send(request.name, request) };

      // v1: 4 MiB of dependencies, on A, then on B (whole: B holds nothing of the volume).
      const first = await a.attach('deps');
      await writeFile(join(first.mountPath, 'deps.bin'), noise(4 << 20));
      const v1 = await first.commit();
      const whole = await b.pull('deps', { from: fromA });
      expect(whole).toMatchObject({ versionId: v1.id, received: true, format: 'btrfs-send', baseId: null });

      // v2: one small change on A; B gets only the difference from its copy of v1.
      const second = await a.attach('deps');
      expect(second.result).toBe('hit');
      await writeFile(join(second.mountPath, 'lock.json'), '{"changed":true}');
      const v2 = await second.commit();
      const delta = await b.pull('deps', { from: fromA });
      expect(delta).toMatchObject({ versionId: v2.id, received: true, format: 'btrfs-send', baseId: v1.id });
      expect(delta.bytes).toBeLessThan(whole.bytes / 10);

      const onB = await b.attach('deps');
      expect(onB.result).toBe('hit');
      expect(onB.baseVersionId).toBe(v2.id);
      expect(await readFile(join(onB.mountPath, 'lock.json'), 'utf8')).toBe('{"changed":true}');
      expect((await readFile(join(onB.mountPath, 'deps.bin'))).equals(Buffer.from(noise(4 << 20)))).toBe(
        true,
      );
      await onB.abandon();

      await removeAll(backendA);
      await removeAll(backendB);
    },
    REAL_SYSTEM_TEST_TIMEOUT_MS,
  );
});
