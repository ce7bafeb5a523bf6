import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CacheVolumeEvents,
  CacheVolumes,
  createMemoryObjectStore,
  createMemoryStore,
  type FleetOptions,
  type ObjectStore,
  type Store,
  type VersionSource,
} from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { createDirBackend, type DirBackend } from '../src/index.js';
import { tempDir } from './helpers.js';

/**
 * Selection that weighs transfer, end to end on dir backends: an attach on a host that lacks
 * the head pulls it within the budget and hits; a pull that fails or runs late gives the
 * host's own best version (stale or miss) in time, and nothing partial is left; a head too big
 * for the budget is fetched in the background, so the next attach hits.
 */

const CLOCK = 1_700_000_000_000;

function host(name: string, store: Store, fleet?: FleetOptions, objects?: ObjectStore) {
  const backend = createDirBackend({ root: tempDir() });
  const volumes = new CacheVolumes({
    backend,
    store,
    host: name,
    clock: () => CLOCK,
    leaseMs: 60_000,
    ...(fleet ? { fleet } : {}),
    ...(objects ? { objects: { store: objects } } : {}),
  });
  const events = { transfer: [] as CacheVolumeEvents['transfer'][], warning: [] as string[] };
  volumes.on('transfer', (e) => events.transfer.push(e));
  volumes.on('warning', (e) => events.warning.push(e.message));
  return { backend, volumes, events };
}

const versionsIn = async (backend: DirBackend) =>
  (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

const from = (volumes: CacheVolumes): VersionSource => ({ open: (r) => volumes.send(r.name, r) });

/** A source whose stream waits for `gate` before its first chunk. */
function gatedSource(volumes: CacheVolumes, gate: Promise<void>): VersionSource {
  return {
    async open(request) {
      const opened = await volumes.send(request.name, request);
      async function* later(): AsyncGenerator<Uint8Array> {
        await gate;
        yield* opened.stream;
      }
      return { ...opened, stream: later() };
    },
  };
}

async function commitOn(volumes: CacheVolumes, files: Record<string, string | Uint8Array>) {
  const job = await volumes.attach('deps', { scope: 'main' });
  for (const [file, body] of Object.entries(files)) await writeFile(join(job.mountPath, file), body);
  return job.commit();
}

describe('an attach on a host that lacks the head', () => {
  it('pulls it from a peer within the budget and hits', async () => {
    const store = createMemoryStore();
    const a = host('a', store);
    const b = host('b', store, { peers: { a: from(a.volumes) } });
    const v1 = await commitOn(a.volumes, { 'package-lock.json': '{"v":1}' });

    const fork = await b.volumes.attach('deps', { scope: 'main' });
    expect(fork.result).toBe('hit');
    expect(fork.baseVersionId).toBe(v1.id);
    expect(await readFile(join(fork.mountPath, 'package-lock.json'), 'utf8')).toBe('{"v":1}');
    expect(b.events.transfer).toEqual([
      expect.objectContaining({ versionId: v1.id, from: 'a', action: 'pull', baseId: null }),
    ]);
    expect(b.events.warning).toEqual([]);
    await fork.abandon();
  });

  it('a peer that fails gives the host’s own best version, a warning, and nothing partial', async () => {
    const store = createMemoryStore();
    const a = host('a', store);
    const broken: VersionSource = {
      async open() {
        throw new Error('connect ECONNREFUSED 10.0.0.1:7077');
      },
    };
    const b = host('b', store, { peers: { a: broken } });
    const v1 = await commitOn(a.volumes, { 'lock.json': '1' });
    const first = await b.volumes.attach('deps', { scope: 'main' });
    expect(first.result).toBe('miss');
    await first.abandon();
    expect(b.events.warning.join('\n')).toContain('ECONNREFUSED');
    expect(await versionsIn(b.backend)).toEqual([]);
    const slice = await store.read({ scope: 'main', name: 'deps' });
    expect(slice.volume?.versions[v1.id]).toMatchObject({ hosts: ['a'] });
    expect(slice.volume?.versions[v1.id]?.receiving).toBeUndefined();
  });

  it('a pull past the budget attaches what the host holds in time, and goes on in the background', async () => {
    const store = createMemoryStore();
    const a = host('a', store);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const b = host('b', store, { peers: { a: gatedSource(a.volumes, gate) }, budgetMs: 300 });
    // B holds v1 (pulled earlier); A then commits v2.
    const v1 = await commitOn(a.volumes, { 'lock.json': '1' });
    await b.volumes.pull('deps', { scope: 'main', from: from(a.volumes) });
    const v2 = await commitOn(a.volumes, { 'lock.json': '2' });

    const started = performance.now();
    const fork = await b.volumes.attach('deps', { scope: 'main' });
    const waited = performance.now() - started;
    expect(fork.result).toBe('stale');
    expect(fork.baseVersionId).toBe(v1.id);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(20_000);
    expect(b.events.warning.join('\n')).toContain('did not finish within 300 ms');
    await fork.abandon();

    open();
    await b.volumes.idle();
    expect(b.events.transfer.at(-1)).toMatchObject({ versionId: v2.id, action: 'pull' });
    const next = await b.volumes.attach('deps', { scope: 'main' });
    expect(next).toMatchObject({ result: 'hit', baseVersionId: v2.id });
    await next.abandon();
  });

  it('a head too big for the budget is prefetched: this attach misses, the next one hits', async () => {
    const store = createMemoryStore();
    const a = host('a', store);
    const b = host('b', store, { peers: { a: from(a.volumes) }, budgetMs: 1000, bytesPerSecond: 1 });
    const v1 = await commitOn(a.volumes, { 'blob.bin': noise(64 << 10) });
    const fork = await b.volumes.attach('deps', { scope: 'main' });
    expect(fork.result).toBe('miss');
    await fork.abandon();
    await b.volumes.idle();
    expect(b.events.transfer).toEqual([expect.objectContaining({ versionId: v1.id, action: 'prefetch' })]);
    const next = await b.volumes.attach('deps', { scope: 'main' });
    expect(next).toMatchObject({ result: 'hit', baseVersionId: v1.id });
    await next.abandon();
  });

  it('restores the head from the object store when no peer holds it (a cold host), then hits', async () => {
    const store = createMemoryStore();
    const bucket = createMemoryObjectStore();
    const a = host('a', store, undefined, bucket);
    const v1 = await commitOn(a.volumes, { 'lock.json': '1' });
    await a.volumes.idle(); // the upload after the commit
    const c = host('c', store, undefined, bucket);
    const fork = await c.volumes.attach('deps', { scope: 'main' });
    expect(fork).toMatchObject({ result: 'hit', baseVersionId: v1.id });
    expect(await readFile(join(fork.mountPath, 'lock.json'), 'utf8')).toBe('1');
    expect(c.events.transfer).toEqual([
      expect.objectContaining({ versionId: v1.id, from: 'objects', action: 'pull' }),
    ]);
    await fork.abandon();
  });

  it('tries the peers first and the object store after them', async () => {
    const store = createMemoryStore();
    const bucket = createMemoryObjectStore();
    const a = host('a', store, undefined, bucket);
    const v1 = await commitOn(a.volumes, { 'lock.json': '1' });
    await a.volumes.idle();
    const down: VersionSource = {
      async open() {
        throw new Error('connect EHOSTUNREACH');
      },
    };
    const c = host('c', store, { peers: { a: down } }, bucket);
    const fork = await c.volumes.attach('deps', { scope: 'main' });
    expect(fork).toMatchObject({ result: 'hit', baseVersionId: v1.id });
    expect(c.events.transfer.map((t) => t.from)).toEqual(['objects']);
    await fork.abandon();
  });

  it('refuses a fleet that names this host as a peer, or a budget that is not positive', () => {
    const store = createMemoryStore();
    const a = host('a', store);
    expect(() => host('b', store, { peers: { b: from(a.volumes) } })).toThrow(/names this host/);
    expect(() => host('b', store, { budgetMs: 0 })).toThrow(/budgetMs must be a positive number/);
    expect(() => host('b', store, { peers: { '': from(a.volumes) } })).toThrow(/peer host/);
  });
});
