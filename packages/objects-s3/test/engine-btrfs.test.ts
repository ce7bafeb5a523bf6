import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createBtrfsBackend } from '@cachevol/backend-btrfs';
import { CacheVolumes, createMemoryStore, type ObjectStore, type Store } from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { startS3, type TestS3 } from './helpers/s3rver.js';

/**
 * Two hosts, each on its own loop btrfs, sharing a store and an s3rver bucket: v2's object is a
 * differential (`btrfs send -p`) against v1's full, and a host that never had v1 restores v2 from
 * the two.
 */

const filesystems: LoopBtrfs[] = [];
let s3: TestS3;
let roots = 0;

async function backendOn(fs: LoopBtrfs) {
  const root = join(fs.mountPoint, `root-${++roots}`);
  await mkdir(root);
  return createBtrfsBackend({ root });
}

const versionsOf = async (backend: ReturnType<typeof createBtrfsBackend>) =>
  (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

/** A: commits v1 (4 MiB) and v2 (one small file more), each uploaded. */
async function twoVersionsOnA(store: Store, objects: ObjectStore) {
  const [fsA] = filesystems as [LoopBtrfs, LoopBtrfs];
  const backendA = await backendOn(fsA);
  const a = new CacheVolumes({ backend: backendA, store, host: 'a', objects: { store: objects } });
  const first = await a.attach('deps');
  await writeFile(join(first.mountPath, 'deps.bin'), noise(4 << 20));
  const v1 = await first.commit();
  await a.idle();
  const second = await a.attach('deps');
  expect(second.result).toBe('hit');
  await writeFile(join(second.mountPath, 'lock.json'), '{"changed":true}');
  const v2 = await second.commit();
  await a.idle();
  return { a, backendA, v1, v2 };
}

async function checkV2On(b: CacheVolumes, v2: string) {
  const fork = await b.attach('deps');
  expect(fork.result).toBe('hit');
  expect(fork.baseVersionId).toBe(v2);
  expect(await readFile(join(fork.mountPath, 'lock.json'), 'utf8')).toBe('{"changed":true}');
  expect((await readFile(join(fork.mountPath, 'deps.bin'))).equals(Buffer.from(noise(4 << 20)))).toBe(true);
  await fork.abandon();
}

describeWith('btrfs', 'the object store tier between two btrfs hosts (s3rver)', () => {
  beforeAll(async () => {
    filesystems.push(
      await createLoopBtrfs({ prefix: 'cachevol-test-s3-' }),
      await createLoopBtrfs({ prefix: 'cachevol-test-s3-' }),
    );
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
    for (const fs of filesystems.splice(0)) await fs.destroy();
  });

  it(
    "v2's object is a differential against v1's full; B, which never had v1, restores v2 from both",
    async () => {
      const store = createMemoryStore();
      const objects = s3.store({ prefix: 'kept' });
      const { v1, v2 } = await twoVersionsOnA(store, objects);
      const recorded = (await store.read({ scope: 'default', name: 'deps' })).volume?.objects ?? [];
      expect(recorded.map((o) => [o.versionId, o.baseId, o.format, o.state])).toEqual([
        [v1.id, null, 'btrfs-send', 'present'],
        [v2.id, v1.id, 'btrfs-send', 'present'],
      ]);
      const [full, diff] = recorded as [(typeof recorded)[0], (typeof recorded)[0]];
      expect(full.bytes).toBeGreaterThan(4 << 20);
      expect(diff.bytes).toBeLessThan(full.bytes / 10);

      const backendB = await backendOn(filesystems[1] as LoopBtrfs);
      const b = new CacheVolumes({ backend: backendB, store, host: 'b', objects: { store: objects } });
      expect(await versionsOf(backendB)).toEqual([]);
      const restored = await b.restore('deps');
      expect(restored).toMatchObject({
        versionId: v2.id,
        received: true,
        format: 'btrfs-send',
        baseId: v1.id,
        objects: [full.key, diff.key],
        base: { versionId: v1.id, temporary: false },
      });
      expect(restored.bytes).toBe(full.bytes + diff.bytes);
      // v1 is still committed: B keeps its copy, and records both.
      expect((await versionsOf(backendB)).sort()).toEqual([v1.id, v2.id].sort());
      const volume = (await store.read({ scope: 'default', name: 'deps' })).volume;
      expect(volume?.versions[v1.id]?.hosts).toEqual(['a', 'b']);
      expect(volume?.versions[v2.id]?.hosts).toEqual(['a', 'b']);
      await checkV2On(b, v2.id);
    },
    REAL_SYSTEM_TEST_TIMEOUT_MS,
  );

  it(
    "once v1's record is gone, B receives its full as a temporary base and keeps only v2",
    async () => {
      const store = createMemoryStore();
      const objects = s3.store({ prefix: 'temporary' });
      const { backendA, v1, v2 } = await twoVersionsOnA(store, objects);
      // Retention on A (one version per volume) removes v1; its full stays for v2's differential.
      const strict = new CacheVolumes({
        backend: backendA,
        store,
        host: 'a',
        objects: { store: objects },
        policy: { maxVersionsPerVolume: 1 },
      });
      const gc = await strict.gc();
      expect(gc.removedVersions.map((r) => r.versionId)).toEqual([v1.id]);
      expect(gc.deletedObjects).toEqual([]);
      const volume = (await store.read({ scope: 'default', name: 'deps' })).volume;
      expect(volume?.versions[v1.id]).toBeUndefined();
      expect(volume?.objects).toHaveLength(2);

      const backendB = await backendOn(filesystems[1] as LoopBtrfs);
      const b = new CacheVolumes({ backend: backendB, store, host: 'b', objects: { store: objects } });
      const restored = await b.restore('deps');
      expect(restored).toMatchObject({
        versionId: v2.id,
        received: true,
        baseId: v1.id,
        base: { versionId: v1.id, temporary: true },
      });
      expect(await versionsOf(backendB)).toEqual([v2.id]);
      const after = (await store.read({ scope: 'default', name: 'deps' })).volume;
      expect(after?.temporaryBases).toBeUndefined();
      expect(after?.versions[v2.id]?.hosts).toEqual(['a', 'b']);
      await checkV2On(b, v2.id);
      // Nothing is left that reconcile would take for a leftover.
      const report = await b.reconcile();
      expect(report.unaccounted).toEqual([]);
      expect(report.abandonedReceives).toEqual([]);
    },
    REAL_SYSTEM_TEST_TIMEOUT_MS,
  );

  it(
    'a restore cut short after its temporary base arrived leaves a claim that reconcile cleans up',
    async () => {
      const store = createMemoryStore();
      const objects = s3.store({ prefix: 'crash' });
      const { backendA, v1, v2 } = await twoVersionsOnA(store, objects);
      await new CacheVolumes({
        backend: backendA,
        store,
        host: 'a',
        policy: { maxVersionsPerVolume: 1 },
      }).gc();
      const diffKey = (await store.read({ scope: 'default', name: 'deps' })).volume?.objects?.find(
        (o) => o.versionId === v2.id,
      )?.key;
      // The download of the differential never comes, as if the restoring process were gone.
      let release: (error: Error) => void = () => undefined;
      const stalled = new Promise<never>((_, reject) => {
        release = reject;
      });
      let asked = false;
      const hanging: ObjectStore = {
        ...objects,
        name: objects.name,
        put: objects.put.bind(objects),
        delete: objects.delete.bind(objects),
        get: (key, options) => {
          if (key !== diffKey) return objects.get(key, options);
          asked = true;
          return stalled;
        },
      };
      const clock = { now: Date.now() };
      const backendB = await backendOn(filesystems[1] as LoopBtrfs);
      const b = new CacheVolumes({
        backend: backendB,
        store,
        host: 'b',
        clock: () => clock.now,
        leaseMs: 60_000,
        objects: { store: hanging },
      });
      const restoring = b.restore('deps').catch((error: unknown) => error);
      await expect.poll(() => asked, { timeout: 120_000 }).toBe(true);
      expect(await versionsOf(backendB)).toEqual([v1.id]);
      // While the claims last, reconcile leaves them; once they ended, it removes the base.
      expect((await b.reconcile()).abandonedReceives).toEqual([]);
      clock.now += 120_000;
      const report = await b.reconcile();
      expect(report.abandonedReceives.sort()).toEqual([v1.id, v2.id].sort());
      expect(await versionsOf(backendB)).toEqual([]);
      const volume = (await store.read({ scope: 'default', name: 'deps' })).volume;
      expect(volume?.temporaryBases).toBeUndefined();
      expect(volume?.versions[v2.id]?.receiving).toBeUndefined();
      release(new Error('the restoring process is gone'));
      expect(String(await restoring)).toMatch(/gone/);
      expect(await versionsOf(backendB)).toEqual([]);
    },
    REAL_SYSTEM_TEST_TIMEOUT_MS,
  );
});
