import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirBackend, type DirBackend } from '@cachevol/backend-dir';
import {
  type CacheVolumeEvents,
  CacheVolumes,
  createMemoryStore,
  isCacheVolumeError,
  type Store,
} from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { createSqliteStore } from '@cachevol/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3ObjectStore } from '../src/index.js';
import { startS3, type TestS3 } from './helpers/s3rver.js';
import { tempDir } from './helpers/temp.js';

/**
 * Two hosts, each with its own dir backend (`tar-zstd`: every object is full), sharing one
 * store and one bucket on a real S3-compatible server (s3rver).
 */

interface Host {
  backend: DirBackend;
  volumes: CacheVolumes;
  warnings: CacheVolumeEvents['warning'][];
}

function host(name: string, store: Store, objects: S3ObjectStore, clock: { now: number }): Host {
  const backend = createDirBackend({ root: tempDir() });
  const volumes = new CacheVolumes({
    backend,
    store,
    host: name,
    clock: () => clock.now,
    leaseMs: 60_000,
    objects: { store: objects },
  });
  const warnings: CacheVolumeEvents['warning'][] = [];
  volumes.on('warning', (w) => warnings.push(w));
  return { backend, volumes, warnings };
}

const versionsIn = async (backend: DirBackend) =>
  (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

describe('hosts sharing a store restore versions from an S3 bucket (s3rver)', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('A commits, the upload lands; B (another root, the same SQLite store) restores it and attaches a hit', async () => {
    const store = createSqliteStore({ path: join(tempDir(), 'state.db') });
    const clock = { now: 1_700_000_000_000 };
    const objects = s3.store({ prefix: 'fleet' });
    const a = host('a', store, objects, clock);
    const b = host('b', store, objects, clock);
    const job = await a.volumes.attach('deps', { scope: 'main' });
    await writeFile(join(job.mountPath, 'lock.json'), '{"v":1}');
    await writeFile(join(job.mountPath, 'big.bin'), noise(3 << 20));
    const version = await job.commit();
    await a.volumes.idle();
    expect(a.warnings).toEqual([]);
    const recorded = (await store.read({ scope: 'main', name: 'deps' })).volume?.objects ?? [];
    expect(recorded).toHaveLength(1);
    expect(await s3.keys()).toEqual([`fleet/${recorded[0]?.key}`]);

    expect((await b.volumes.lookup('deps', { scope: 'main' })).result).toBe('miss');
    const restored = await b.volumes.restore('deps', { scope: 'main' });
    expect(restored).toMatchObject({ versionId: version.id, received: true, format: 'tar-zstd', base: null });
    expect(restored.bytes).toBe(recorded[0]?.bytes);
    const onB = await b.volumes.attach('deps', { scope: 'main' });
    expect(onB.result).toBe('hit');
    expect(await readFile(join(onB.mountPath, 'lock.json'), 'utf8')).toBe('{"v":1}');
    expect((await readFile(join(onB.mountPath, 'big.bin'))).equals(Buffer.from(noise(3 << 20)))).toBe(true);
    await onB.abandon();
    await a.volumes.close();
    await b.volumes.idle();
  });

  it('a corrupted object (overwritten in the server) leaves nothing on B', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const objects = s3.store({ prefix: 'corrupt' });
    const a = host('a', store, objects, clock);
    const b = host('b', store, objects, clock);
    const job = await a.volumes.attach('deps');
    await writeFile(join(job.mountPath, 'big.bin'), noise(1 << 20));
    const version = await job.commit();
    await a.volumes.idle();
    const [object] = (await store.read({ scope: 'default', name: 'deps' })).volume?.objects ?? [];
    const file = s3.objectFile(`corrupt/${object?.key}`);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(file, bytes);

    const error = await b.volumes.restore('deps').catch((e: unknown) => e);
    expect(isCacheVolumeError(error)).toBe(true);
    expect(await versionsIn(b.backend)).toEqual([]);
    const slice = await store.read({ scope: 'default', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();
    expect((await b.volumes.lookup('deps')).result).toBe('miss');
  });

  it('gc deletes the objects that are no longer needed from the bucket', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const objects = s3.store({ prefix: 'gc' });
    const a = host('a', store, objects, clock);
    const commit = async (content: string) => {
      const job = await a.volumes.attach('deps');
      await writeFile(join(job.mountPath, 'f'), content);
      const version = await job.commit();
      await a.volumes.idle();
      return version;
    };
    const v1 = await commit('1');
    await commit('2');
    const v3 = await commit('3'); // keeps 2 versions: v1 is gone
    const inBucket = async () => (await s3.keys()).filter((k) => k.startsWith('gc/'));
    expect(await inBucket()).toHaveLength(3);
    const report = await a.volumes.gc();
    expect(report.deletedObjects).toEqual([expect.stringContaining(`/${v1.id}/`)]);
    expect(await inBucket()).toHaveLength(2);
    expect((await inBucket()).some((k) => k.includes(`/${v3.id}/`))).toBe(true);
  });
});
