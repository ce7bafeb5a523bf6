import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumes, createMemoryStore, type Store, type VersionSource } from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { createDirBackend, type DirBackend } from '../src/index.js';
import { tempDir } from './helpers.js';

/** A host: its own dir backend, the store every host shares, its own clock. */
function host(name: string, store: Store, clock: { now: number }) {
  const backend = createDirBackend({ root: tempDir() });
  const volumes = new CacheVolumes({ backend, store, host: name, clock: () => clock.now, leaseMs: 60_000 });
  return { backend, volumes };
}

const versionsIn = async (backend: DirBackend) =>
  (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

/** A source that sends what `volumes` sends, cut after `limit` bytes. */
function cutSource(volumes: CacheVolumes, limit: number): VersionSource {
  return {
    async open(request) {
      const opened = await volumes.send(request.name, request);
      async function* cut(): AsyncGenerator<Uint8Array> {
        let sent = 0;
        for await (const chunk of opened.stream) {
          if (sent + chunk.length > limit) throw new Error('connection reset by peer');
          sent += chunk.length;
          yield chunk;
        }
      }
      return { ...opened, stream: cut() };
    },
  };
}

describe('hosts sharing a store move versions between their backends', () => {
  it('a version committed on A is pulled to B, which then attaches it as a hit', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const job = await a.volumes.attach('deps', { scope: 'main' });
    await writeFile(join(job.mountPath, 'package-lock.json'), '{"lockfileVersion":3}');
    const version = await job.commit();

    expect((await b.volumes.lookup('deps', { scope: 'main' })).result).toBe('miss');
    const pulled = await b.volumes.pull('deps', {
      scope: 'main',
      from: { open: (r) => a.volumes.send(r.name, r) },
    });
    expect(pulled).toMatchObject({ versionId: version.id, received: true, format: 'tar-zstd' });
    expect(pulled.bytes).toBeGreaterThan(0);
    expect(await versionsIn(b.backend)).toEqual([version.id]);
    const slice = await store.read({ scope: 'main', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a', 'b']);
    expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();

    const onB = await b.volumes.attach('deps', { scope: 'main' });
    expect(onB.result).toBe('hit');
    expect(await readFile(join(onB.mountPath, 'package-lock.json'), 'utf8')).toBe('{"lockfileVersion":3}');
    await onB.abandon();

    // Pulled again: B holds it, nothing is received.
    const again = await b.volumes.pull('deps', {
      scope: 'main',
      from: { open: (r) => a.volumes.send(r.name, r) },
    });
    expect(again.received).toBe(false);
  });

  it('a stream cut mid-way leaves nothing on B, no claim, and the next pull gets it whole', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const job = await a.volumes.attach('deps');
    await writeFile(join(job.mountPath, 'big.bin'), noise(1 << 20)); // incompressible: the stream is 1 MiB
    const version = await job.commit();

    await expect(b.volumes.pull('deps', { from: cutSource(a.volumes, 1024) })).rejects.toThrow(
      /connection reset/,
    );
    expect(await versionsIn(b.backend)).toEqual([]);
    const slice = await store.read({ scope: 'default', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();
    expect((await b.volumes.lookup('deps')).result).toBe('miss');

    await b.volumes.pull('deps', { from: cutSource(a.volumes, Number.POSITIVE_INFINITY) });
    expect((await b.volumes.lookup('deps')).result).toBe('hit');
  });

  it('refuses to send a version the sending host does not hold', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const c = host('c', store, clock);
    await (await a.volumes.attach('deps')).commit();
    const error = await c.volumes
      .pull('deps', { from: { open: (r) => b.volumes.send(r.name, r) } })
      .catch((e) => e);
    expect(error.code).toBe('NOT_FOUND');
    expect(await versionsIn(c.backend)).toEqual([]);
  });

  it.each([
    ['reconcile', (volumes: CacheVolumes) => volumes.reconcile()],
    ['gc', async (volumes: CacheVolumes) => (await volumes.gc()).reconcile],
  ] as const)(
    'a copy received but not recorded (the store failed) keeps its claim, and %s removes it',
    async (_, repair) => {
      const store = createMemoryStore();
      const clock = { now: 1_700_000_000_000 };
      const a = host('a', store, clock);
      const version = await (await a.volumes.attach('deps')).commit();
      // B's store fails the write that would record its copy (the second write of the pull).
      let writes = 0;
      const failing: Store = new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'transact') return Reflect.get(target, property, receiver);
          return (...args: Parameters<Store['transact']>) => {
            writes += 1;
            if (writes === 2) return Promise.reject(new Error('the database went away'));
            return target.transact(...args);
          };
        },
      });
      const b = host('b', failing, clock);
      await expect(
        b.volumes.pull('deps', { from: { open: (r) => a.volumes.send(r.name, r) } }),
      ).rejects.toThrow(/went away/);
      expect((await b.volumes.lookup('deps')).result).toBe('miss');

      clock.now += 120_000;
      expect((await repair(b.volumes)).abandonedReceives).toEqual([version.id]);
      expect(await versionsIn(b.backend)).toEqual([]);
      const slice = await store.read({ scope: 'default', name: 'deps' });
      expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();
      expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    },
  );

  it('a receive that outlasts its claim records nothing once reconcile took it over and removed the copy', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const version = await (await a.volumes.attach('deps')).commit();
    // B's backend finishes the receive, then the pull stalls before it records the copy.
    const backend = createDirBackend({ root: tempDir() });
    let received: () => void = () => undefined;
    const inBackend = new Promise<void>((resolve) => {
      received = resolve;
    });
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const slow = new Proxy(backend, {
      get(target, property, receiver) {
        if (property !== 'receiveVersion') return Reflect.get(target, property, receiver);
        return async (...args: Parameters<NonNullable<DirBackend['receiveVersion']>>) => {
          const usage = await (target.receiveVersion as NonNullable<DirBackend['receiveVersion']>).call(
            target,
            ...args,
          );
          received();
          await resumed;
          return usage;
        };
      },
    });
    const b = new CacheVolumes({ backend: slow, store, host: 'b', clock: () => clock.now, leaseMs: 60_000 });
    const pulling = b
      .pull('deps', { from: { open: (r) => a.volumes.send(r.name, r) } })
      .catch((error: unknown) => error);
    await inBackend;
    clock.now += 120_000;
    expect((await b.reconcile()).abandonedReceives).toEqual([version.id]);
    resume();
    expect(((await pulling) as { code?: string }).code).toBe('CONFLICT');
    const slice = await store.read({ scope: 'default', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    expect(await versionsIn(backend)).toEqual([]);
    expect((await b.lookup('deps')).result).toBe('miss');
  });

  it('reconcile cleans up a receive that a crash cut short, once its claim ran out', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const version = await (await a.volumes.attach('deps')).commit();
    // A receive that stalls, as if the process receiving it were gone (ended after the test).
    let release: (error: Error) => void = () => undefined;
    const stalled = new Promise<never>((_, reject) => {
      release = reject;
    });
    const hung: VersionSource = {
      async open(request) {
        const opened = await a.volumes.send(request.name, request);
        async function* stalls(): AsyncGenerator<Uint8Array> {
          yield* opened.stream;
          await stalled;
        }
        return { ...opened, stream: stalls() };
      },
    };
    const pulling = b.volumes.pull('deps', { from: hung }).catch((error: unknown) => error);
    await expect
      .poll(
        async () =>
          (await store.read({ scope: 'default', name: 'deps' })).volume?.versions[version.id]?.receiving,
      )
      .toBeDefined();

    const early = await b.volumes.reconcile();
    expect(early.abandonedReceives).toEqual([]);
    clock.now += 120_000;
    const later = await b.volumes.reconcile();
    expect(later.abandonedReceives).toEqual([version.id]);
    const slice = await store.read({ scope: 'default', name: 'deps' });
    expect(slice.volume?.versions[version.id]?.receiving).toBeUndefined();
    expect(slice.volume?.versions[version.id]?.hosts).toEqual(['a']);
    expect(await versionsIn(b.backend)).toEqual([]);
    release(new Error('the receiving process is gone'));
    expect(String(await pulling)).toMatch(/gone/);
  });

  it('a version removed on A while B holds a copy: B removes its copy, then the record goes', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const from: VersionSource = { open: (r) => a.volumes.send(r.name, r) };
    const commit = async () => (await a.volumes.attach('deps')).commit();
    const v1 = await commit();
    await b.volumes.pull('deps', { from });
    // Two more commits on A: retention (two versions per volume) removes v1 there.
    await commit();
    await commit();
    expect(await versionsIn(a.backend)).not.toContain(v1.id);
    const pending = (await store.read({ scope: 'default', name: 'deps' })).volume?.versions[v1.id];
    expect(pending).toMatchObject({ state: 'removing', hosts: ['b'], pendingCopies: true });
    expect((await b.volumes.lookup('deps')).result).toBe('miss');

    const report = await b.volumes.reconcile();
    expect(report.removedCopies).toEqual([v1.id]);
    expect(report.unaccounted).toEqual([]);
    expect(await versionsIn(b.backend)).toEqual([]);
    expect((await store.read({ scope: 'default', name: 'deps' })).volume?.versions[v1.id]).toBeUndefined();
  });

  it('a copy lost on B takes only B out: the version stays committed for A', async () => {
    const store = createMemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const a = host('a', store, clock);
    const b = host('b', store, clock);
    const v1 = await (await a.volumes.attach('deps')).commit();
    await b.volumes.pull('deps', { from: { open: (r) => a.volumes.send(r.name, r) } });
    await b.backend.removeVersion(v1.id); // someone deleted it under B's backend
    const onB = await b.volumes.attach('deps');
    expect(onB.result).toBe('miss');
    await onB.abandon();
    const version = (await store.read({ scope: 'default', name: 'deps' })).volume?.versions[v1.id];
    expect(version).toMatchObject({ state: 'committed', hosts: ['a'] });
    const onA = await a.volumes.attach('deps');
    expect(onA.result).toBe('hit');
    await onA.abandon();
  });
});
