import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CacheVolumeEvents,
  CacheVolumes,
  createMemoryObjectStore,
  createMemoryStore,
  type MemoryObjectStore,
  type Store,
} from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { createDirBackend, type DirBackend } from '../src/index.js';
import { rejection, tempDir } from './helpers.js';

/**
 * The object store tier through the engine, on dir backends (`tar-zstd`: every object is full)
 * and the memory object store; `@cachevol/objects-s3` runs the same kind of test against a real
 * S3-compatible server.
 */

interface Host {
  backend: DirBackend;
  volumes: CacheVolumes;
  warnings: CacheVolumeEvents['warning'][];
}

function host(name: string, store: Store, objects: MemoryObjectStore, clock: { now: number }): Host {
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

function setup() {
  const store = createMemoryStore();
  const objects = createMemoryObjectStore();
  const clock = { now: 1_700_000_000_000 };
  return { store, objects, clock, a: host('a', store, objects, clock), b: host('b', store, objects, clock) };
}

async function commitOn(on: Host, file: string, content: string | Uint8Array) {
  const job = await on.volumes.attach('deps', { scope: 'main' });
  await writeFile(join(job.mountPath, file), content);
  return job.commit();
}

describe('the object store tier on dir backends', () => {
  it('a commit on A is uploaded in the background; B restores it and attaches it as a hit', async () => {
    const { store, objects, a, b } = setup();
    const version = await commitOn(a, 'lock.json', '{"v":1}');
    await a.volumes.idle();
    expect(a.warnings).toEqual([]);
    const [key] = objects.keys();
    expect(key).toMatch(new RegExp(`^main/deps/${version.id}/[0-9a-f]{16}\\.tar-zstd$`));
    const volume = (await store.read({ scope: 'main', name: 'deps' })).volume;
    expect(volume?.objects).toEqual([
      expect.objectContaining({
        key,
        versionId: version.id,
        baseId: null,
        format: 'tar-zstd',
        state: 'present',
      }),
    ]);
    expect(volume?.objects?.[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);

    const restored = await b.volumes.restore('deps', { scope: 'main' });
    expect(restored).toMatchObject({
      versionId: version.id,
      received: true,
      format: 'tar-zstd',
      objects: [key],
    });
    expect(restored.bytes).toBe(volume?.objects?.[0]?.bytes);
    expect((await store.read({ scope: 'main', name: 'deps' })).volume?.versions[version.id]?.hosts).toEqual([
      'a',
      'b',
    ]);
    const onB = await b.volumes.attach('deps', { scope: 'main' });
    expect(onB.result).toBe('hit');
    expect(await readFile(join(onB.mountPath, 'lock.json'), 'utf8')).toBe('{"v":1}');
    await onB.abandon();

    // Held already: nothing is received; uploaded already: nothing is uploaded.
    expect((await b.volumes.restore('deps', { scope: 'main' })).received).toBe(false);
    expect((await a.volumes.upload('deps', { scope: 'main' })).uploaded).toBe(false);
  });

  it('a corrupt object leaves nothing on B, and no claim', async () => {
    const { store, objects, a, b } = setup();
    const version = await commitOn(a, 'big.bin', noise(256 << 10));
    await a.volumes.idle();
    const [key] = objects.keys() as [string];
    const bytes = new Uint8Array(await readAll(await objects.get(key)));
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    objects.replace(key, bytes);

    const error = await rejection(b.volumes.restore('deps', { scope: 'main' }));
    expect(error.code).toBe('BACKEND_FAILED');
    expect(await versionsIn(b.backend)).toEqual([]);
    const slice = await store.read({ scope: 'main', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();
    expect((await b.volumes.lookup('deps', { scope: 'main' })).result).toBe('miss');
  });

  it('gc deletes the objects of versions retention removed, and keeps the head', async () => {
    const { store, objects, a } = setup();
    const v1 = await commitOn(a, 'f', '1');
    await a.volumes.idle();
    await commitOn(a, 'f', '2');
    const v3 = await commitOn(a, 'f', '3'); // the default keeps 2 versions: v1 goes
    await a.volumes.idle();
    expect(objects.keys()).toHaveLength(3);
    const report = await a.volumes.gc();
    expect(report.deletedObjects).toEqual([expect.stringContaining(`/${v1.id}/`)]);
    expect(objects.keys()).toHaveLength(2);
    const volume = (await store.read({ scope: 'main', name: 'deps' })).volume;
    expect(volume?.objects?.map((o) => o.versionId)).not.toContain(v1.id);
    expect(volume?.objects?.map((o) => o.versionId)).toContain(v3.id);
    expect((await a.volumes.gc()).deletedObjects).toEqual([]);

    // Removing the volume deletes the rest.
    await a.volumes.removeVolume('deps', { scope: 'main' });
    expect(objects.keys()).toEqual([]);
    expect((await store.read({ scope: 'main', name: 'deps' })).volume).toBeNull();
  });

  it('a failed upload is a warning, never an error of the commit, and leaves no object', async () => {
    const store = createMemoryStore();
    const objects = createMemoryObjectStore();
    const failing: MemoryObjectStore = {
      ...objects,
      put: async () => {
        throw new Error('the bucket went away');
      },
    };
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, failing, clock);
    const version = await commitOn(a, 'f', '1');
    await a.volumes.idle();
    expect(a.warnings).toHaveLength(1);
    expect(a.warnings[0]?.message).toMatch(/Could not upload version .* the bucket went away/);
    expect((await store.read({ scope: 'main', name: 'deps' })).volume?.objects).toBeUndefined();
    expect((await a.volumes.lookup('deps', { scope: 'main' })).version?.id).toBe(version.id);
  });

  it('restore without an object is NOT_FOUND, and without an object store INVALID_ARGUMENT', async () => {
    const { a, b } = setup();
    await commitOn(a, 'f', '1');
    await a.volumes.idle();
    const store = createMemoryStore();
    const plain = new CacheVolumes({ backend: createDirBackend({ root: tempDir() }), store });
    expect((await rejection(plain.restore('deps'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(b.volumes.restore('other', { scope: 'main' }))).code).toBe('NOT_FOUND');
  });
});

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
