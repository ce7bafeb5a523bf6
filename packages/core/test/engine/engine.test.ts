import { createMemoryBackend, type MemoryBackend } from '@cachevol/backend-memory';
import { describe, expect, it } from 'vitest';
import {
  CacheVolumeError,
  CacheVolumes,
  type CacheVolumesOptions,
  COMMIT_MODES,
  type CommitMode,
  createMemoryStore,
  DAY_MS,
  GIB,
  type Store,
} from '../../src/index.js';
import { readAllSlices } from '../../src/testing/index.js';

function setup(overrides: Partial<CacheVolumesOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const backend = createMemoryBackend();
  const store = createMemoryStore();
  const engine = new CacheVolumes({ backend, store, host: 'h1', clock: () => clock.now, ...overrides });
  return {
    clock,
    backend: (overrides.backend ?? backend) as MemoryBackend,
    store: (overrides.store ?? store) as Store,
    engine,
  };
}

/**
 * An engine with `maxTotalBytes: 25` whose backend, like btrfs without quotas, reports a cheap,
 * wrong figure at commit (100× the real one, `estimated: true`) and the real one from `usage()`
 * (unless `overrides` replace it), after two commits of 10 bytes to `deps`.
 */
async function twoEstimatedCommits(overrides: Partial<MemoryBackend> = {}) {
  const memory = createMemoryBackend();
  const backend: MemoryBackend = Object.assign(Object.create(memory) as MemoryBackend, {
    commitFork: async (forkId: string, versionId: string) => ({
      usedBytes: (await memory.commitFork(forkId, versionId)).usedBytes * 100,
      estimated: true,
    }),
    ...overrides,
  });
  const built = setup({ backend, policy: { maxTotalBytes: 25 } });
  for (const content of ['0123456789', 'abcdefghij']) {
    const fork = await built.engine.attach('deps');
    backend.files(fork).write('f', content);
    await fork.commit();
    built.clock.now += 1000;
  }
  return built;
}

async function code(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? String(e),
  );
}

describe('CacheVolumes', () => {
  it('misses first, then hits the committed version with exactly its files', async () => {
    const { engine, backend } = setup();
    const first = await engine.attach('deps', { scope: 'pipe', job: 'j1' });
    expect(first.result).toBe('miss');
    expect(first.capacityBytes).toBe(20 * GIB);
    backend.files(first).write('node_modules/a.js', 'a');
    const version = await first.commit();
    const second = await engine.attach('deps', { scope: 'pipe', job: 'j2', size: '30g' });
    expect(second.result).toBe('hit');
    expect(second.baseVersionId).toBe(version.id);
    expect(second.capacityBytes).toBe(30 * GIB + version.usedBytes);
    expect(backend.files(second).snapshot()).toEqual({ 'node_modules/a.js': 'a' });
  });

  it('lets the commit that completes last become head ("last write")', async () => {
    const { engine, backend } = setup();
    const a = await engine.attach('v');
    const b = await engine.attach('v');
    backend.files(a).write('who', 'a');
    backend.files(b).write('who', 'b');
    await b.commit();
    await a.commit();
    const c = await engine.attach('v');
    expect(backend.files(c).readText('who')).toBe('a');
  });

  it('abandons on a non-zero exit and keeps the last good head', async () => {
    const { engine, backend } = setup();
    const good = await engine.attach('v');
    backend.files(good).write('f', 'good');
    await good.finish(0);
    const bad = await engine.attach('v');
    backend.files(bad).write('f', 'bad');
    expect(await bad.finish(1)).toEqual({ action: 'abandoned', version: null });
    const next = await engine.attach('v');
    expect(backend.files(next).readText('f')).toBe('good');
  });

  it.each<[CommitMode, number, 'miss' | 'hit', string]>([
    ['on-success', 0, 'miss', 'committed'],
    ['on-success', 3, 'miss', 'abandoned'],
    ['always', 3, 'miss', 'committed'],
    ['never', 0, 'miss', 'skipped'],
    ['if-missing', 0, 'miss', 'committed'],
    ['if-missing', 0, 'hit', 'skipped'],
    ['on-change', 0, 'hit', 'skipped'],
  ])('commit mode %s with exit %i after a %s: %s', async (mode, exit, result, action) => {
    const { engine } = setup();
    if (result === 'hit') await (await engine.attach('v')).commit();
    const fork = await engine.attach('v', { commit: mode });
    expect(fork.result).toBe(result);
    expect((await fork.finish(exit)).action).toBe(action);
  });

  it('commits on-change forks that changed', async () => {
    const { engine, backend } = setup();
    await (await engine.attach('v')).commit();
    const fork = await engine.attach('v', { commit: 'on-change' });
    backend.files(fork).write('x', '1');
    expect((await fork.finish(0)).action).toBe('committed');
  });

  it('knows every commit mode', () => {
    expect(COMMIT_MODES).toEqual(['on-success', 'always', 'never', 'on-change', 'if-missing']);
  });

  it('refuses a double commit, commit after abandon, and abandon after commit with CONFLICT', async () => {
    const { engine } = setup();
    const a = await engine.attach('v');
    await a.commit();
    expect(await code(a.commit())).toBe('CONFLICT');
    expect(await code(a.abandon())).toBe('CONFLICT');
    const b = await engine.attach('v');
    await b.abandon();
    await b.abandon();
    expect(await code(b.commit())).toBe('CONFLICT');
    expect(await code(b.finish(0))).toBe('CONFLICT');
    const c = await engine.attach('v', { commit: 'never' });
    expect(await code(c.commit())).toBe('CONFLICT');
  });

  it('reports NOT_FOUND for unknown fork ids', async () => {
    const { engine } = setup();
    for (const op of [
      engine.fork('f-nope'),
      engine.commit('f-nope'),
      engine.abandon('f-nope'),
      engine.finish('f-nope', 0),
      engine.heartbeat('f-nope'),
    ]) {
      expect(await code(op)).toBe('NOT_FOUND');
    }
  });

  it('refuses bad names, sizes and options with INVALID_ARGUMENT and changes nothing', async () => {
    const { engine, store } = setup();
    await (await engine.attach('ok')).commit();
    const before = await readAllSlices(store);
    const bad: [string, object][] = [
      ['../etc', {}],
      ['a/../b', {}],
      ['a\u0000b', {}],
      ['a;rm -rf /', {}],
      ['$(whoami)', {}],
      ['a b', {}],
      ['/abs', {}],
      ['ok', { scope: '../x' }],
      ['ok', { size: '20' }],
      ['ok', { size: '20gb' }],
      ['ok', { size: '-1g' }],
      ['ok', { size: '0g' }],
      ['ok', { size: '19g' }],
      ['ok', { commit: 'sometimes' }],
      ['ok', { unknown: true }],
      ['ok', { job: 'a\nb' }],
    ];
    for (const [name, options] of bad) {
      expect(await code(engine.attach(name, options as never)), `${name} ${JSON.stringify(options)}`).toBe(
        'INVALID_ARGUMENT',
      );
    }
    expect(await readAllSlices(store)).toEqual(before);
    expect(await code(engine.finish('f-x', 1.5))).toBe('INVALID_ARGUMENT');
  });

  it('explains bad sizes and names in the message', async () => {
    const { engine } = setup();
    await expect(engine.attach('ok', { size: '19g' })).rejects.toThrow(/between 20g/);
    await expect(engine.attach('a/../b')).rejects.toThrow(/"\." and "\.\." segments/);
  });

  it('fails on a miss when asked, without attaching', async () => {
    const { engine, backend } = setup();
    expect(await code(engine.attach('v', { failOnMiss: true }))).toBe('NOT_FOUND');
    expect(await backend.list()).toEqual([]);
    expect((await engine.lookup('v')).result).toBe('miss');
    await (await engine.attach('v')).commit();
    expect((await engine.lookup('v')).result).toBe('hit');
    expect((await engine.attach('v', { failOnMiss: true })).result).toBe('hit');
  });

  it('finds forks by id from another engine on the same store (another process)', async () => {
    const { engine, backend, store } = setup();
    const fork = await engine.attach('v', { job: 'j' });
    backend.files(fork).write('x', 'from process 1');
    const other = new CacheVolumes({ backend, store, host: 'h1' });
    const found = await other.fork(fork.id);
    expect(found.mountPath).toBe(fork.mountPath);
    await found.finish(0);
    const next = await engine.attach('v');
    expect(backend.files(next).readText('x')).toBe('from process 1');
  });

  it('abandons forks whose lease ran out, unless they heartbeat', async () => {
    const { engine, clock } = setup({ leaseMs: 1000 });
    const idle = await engine.attach('v');
    const busy = await engine.attach('v');
    clock.now += 800;
    await busy.heartbeat();
    clock.now += 800;
    const report = await engine.gc();
    expect(report.expiredForks).toEqual([idle.id]);
    expect(await code(idle.commit())).toBe('CONFLICT');
    await busy.commit();
  });

  it('removes versions idle for 14 days, but never one a live fork uses', async () => {
    const { engine, clock, backend } = setup();
    await (await engine.attach('old')).commit();
    await (await engine.attach('used')).commit();
    const user = await engine.attach('used', { leaseMs: 30 * DAY_MS });
    clock.now += 14 * DAY_MS;
    const report = await engine.gc();
    expect(report.removedVersions.map((v) => v.name)).toEqual(['old']);
    expect((await engine.stats()).map((s) => [s.name, s.versions])).toEqual([
      ['old', 0],
      ['used', 1],
    ]);
    await user.abandon();
    expect((await engine.gc()).removedVersions.map((v) => v.name)).toEqual(['used']);
    expect(await backend.list()).toEqual([]);
  });

  it('evicts least recently used versions under capacity pressure', async () => {
    const { engine, clock, backend } = setup({ policy: { maxTotalBytes: 15 } });
    for (const name of ['a', 'b', 'c']) {
      const fork = await engine.attach(name);
      backend.files(fork).write('f', '0123456789');
      await fork.commit();
      clock.now += 1000;
    }
    const report = await engine.gc();
    expect(report.removedVersions.map((v) => v.name)).toEqual(['a', 'b']);
  });

  it("leaves other hosts' versions to them, reports one it cannot measure, and weighs its estimate meanwhile", async () => {
    const failing = async () => {
      throw new Error('cannot measure now');
    };
    const { engine, clock, store } = await twoEstimatedCommits({ usage: failing });
    const versions = async () =>
      Object.values((await store.read({ scope: 'default', name: 'deps' })).volume?.versions ?? {});
    expect((await versions()).map((v) => [v.usedBytes, v.usedBytesEstimated])).toEqual([
      [1000, true],
      [1000, true],
    ]);
    // Another host sharing the store holds neither version: it leaves them to this host.
    const other = new CacheVolumes({
      backend: createMemoryBackend(),
      store,
      host: 'h2',
      clock: () => clock.now,
    });
    expect((await other.gc()).reconcile.errors).toEqual([]);
    expect((await versions()).map((v) => v.usedBytesEstimated)).toEqual([true, true]);
    const failed = await engine.gc();
    expect(failed.removedVersions).toHaveLength(2);
    expect(failed.reconcile.errors.map((e) => e.error)).toEqual([
      'Error: cannot measure now',
      'Error: cannot measure now',
    ]);
  });

  it('keeps the head when measured sizes fit the budget that estimates exceeded', async () => {
    const { engine, store } = await twoEstimatedCommits();
    expect((await engine.gc()).removedVersions).toEqual([]);
    const { volume } = await store.read({ scope: 'default', name: 'deps' });
    expect(Object.values(volume?.versions ?? {}).map((v) => [v.usedBytes, v.usedBytesEstimated])).toEqual([
      [10, undefined],
      [10, undefined],
    ]);
    expect((await engine.attach('deps')).result).toBe('hit');
  });

  it('counts hit, stale and miss per volume and emits events', async () => {
    const { engine } = setup({ policy: { maxForksPerVersion: 1 } });
    const events: string[] = [];
    engine.on('attach', (e) => events.push(`attach:${e.fork.result}`));
    engine.on('commit', () => events.push('commit'));
    engine.on('abandon', (e) => events.push(`abandon:${e.reason}`));
    const a = await engine.attach('v');
    await a.commit();
    const b = await engine.attach('v');
    await b.commit();
    const hit = await engine.attach('v');
    const stale = await engine.attach('v');
    await hit.finish(1);
    await stale.abandon();
    const [stats] = await engine.stats();
    expect(stats?.counts).toEqual({ hit: 2, stale: 1, miss: 1 });
    expect(stats?.hitRatio).toBe(0.5);
    expect(events).toEqual([
      'attach:miss',
      'commit',
      'attach:hit',
      'commit',
      'attach:hit',
      'attach:stale',
      'abandon:failed',
      'abandon:requested',
    ]);
  });

  it('removes a whole volume, abandoning its live forks', async () => {
    const { engine, backend } = setup();
    await (await engine.attach('v')).commit();
    const live = await engine.attach('v');
    expect(await engine.removeVolume('v')).toHaveLength(1);
    expect(await code(live.commit())).toBe('CONFLICT');
    expect(await backend.list()).toEqual([]);
    expect(await engine.stats()).toEqual([]);
    expect(await code(engine.removeVolume('v'))).toBe('NOT_FOUND');
  });

  it('abandons the fork and rethrows when the backend fails to attach', async () => {
    const { backend, store } = setup();
    const failing = { ...backend, createFork: async () => Promise.reject(new Error('disk on fire')) };
    const engine = new CacheVolumes({ backend: failing, store, host: 'h1', newId: (kind) => `${kind[0]}-1` });
    await expect(engine.attach('v')).rejects.toThrow('disk on fire');
    expect((await store.findFork('f-1'))?.state).toBe('abandoned');
    expect(await engine.forks()).toEqual([]);
  });

  it('serialises work per volume and reports progress events', async () => {
    const { engine } = setup({ policy: { maxVersionsPerVolume: Number.POSITIVE_INFINITY } });
    const forks = await Promise.all(Array.from({ length: 8 }, () => engine.attach('v')));
    await Promise.all(forks.map((f) => f.commit()));
    const [stats] = await engine.stats();
    expect(stats?.versions).toBe(8);
    await engine.idle();
  });

  it('refuses bad engine settings', () => {
    const backend = createMemoryBackend();
    const store = createMemoryStore();
    expect(() => new CacheVolumes({ backend, store, leaseMs: -1 })).toThrow(/leaseMs/);
    expect(() => new CacheVolumes({ backend, store, policy: { retention: 1 } as never })).toThrow(/policy/);
    expect(() => new CacheVolumes({ store } as never)).toThrow(/backend/);
  });
});

describe('CacheVolumes: disk stays bounded after commits', () => {
  const versionsOn = async (backend: MemoryBackend) =>
    (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

  it('a commit removes its volume’s superseded versions: the head and one before it stay', async () => {
    const { engine, backend } = setup();
    const removed: string[] = [];
    engine.on('remove', ({ version, reason }) => removed.push(`${version.versionId}:${reason}`));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await (await engine.attach('v')).commit()).id);
    expect(removed).toEqual([`${ids[0]}:superseded`, `${ids[1]}:superseded`]);
    expect((await versionsOn(backend)).sort()).toEqual([ids[2], ids[3]].sort());
    expect((await engine.lookup('v')).version?.id).toBe(ids[3]);
  });

  it('keeps a superseded version while a live fork depends on it, and removes it at the next commit', async () => {
    const { engine, backend } = setup({ policy: { maxVersionsPerVolume: 1 } });
    const first = await (await engine.attach('v')).commit();
    const reader = await engine.attach('v');
    await (await engine.attach('v')).commit();
    expect(await versionsOn(backend)).toContain(first.id);
    await reader.abandon();
    await (await engine.attach('v')).commit();
    expect(await versionsOn(backend)).not.toContain(first.id);
    expect(await versionsOn(backend)).toHaveLength(1);
  });

  it('a removal that fails after a commit is a warning: the commit stands, and recovery finishes the removal', async () => {
    const { engine, backend } = setup({ policy: { maxVersionsPerVolume: 1 } });
    const first = await (await engine.attach('v')).commit();
    const warnings: string[] = [];
    engine.on('warning', ({ message, error }) => warnings.push(`${error.code}: ${message}`));
    const removeVersion = backend.removeVersion.bind(backend);
    backend.removeVersion = async () => {
      throw new CacheVolumeError('BACKEND_FAILED', 'disk on fire');
    };
    const second = await (await engine.attach('v')).commit();
    expect(warnings).toEqual([
      expect.stringMatching(/^BACKEND_FAILED: .*volume "v".*gc\(\) will retry: disk on fire/),
    ]);
    expect((await engine.lookup('v')).version?.id).toBe(second.id);
    backend.removeVersion = removeVersion;
    expect(await versionsOn(backend)).toContain(first.id);
    await engine.reconcile({ force: true });
    expect(await versionsOn(backend)).toEqual([second.id]);
  });
});

describe('CacheVolumes: a parent whose data is gone', () => {
  const lostSetup = () => {
    const s = setup({ policy: { maxVersionsPerVolume: Number.POSITIVE_INFINITY } });
    const warnings: string[] = [];
    const removed: string[] = [];
    s.engine.on('warning', ({ error }) => warnings.push(error.code));
    s.engine.on('remove', ({ version, reason }) => removed.push(`${version.versionId}:${reason}`));
    return { ...s, warnings, removed };
  };

  it('is removed as lost, with a warning, and the attach takes the version before it, now the head', async () => {
    const { engine, backend, warnings, removed } = lostSetup();
    const older = await (await engine.attach('v')).commit();
    const head = await (await engine.attach('v')).commit();
    await backend.removeVersion(head.id); // someone deleted it under the backend
    const fork = await engine.attach('v');
    expect(fork.result).toBe('hit');
    expect(fork.baseVersionId).toBe(older.id);
    expect(warnings).toEqual(['NOT_FOUND']);
    expect(removed).toEqual([`${head.id}:lost`]);
    expect((await engine.lookup('v')).version?.id).toBe(older.id);
    expect(await engine.forks()).toHaveLength(1);
  });

  it('is removed even while live forks of it exist; with every version gone the attach is a miss', async () => {
    const { engine, backend, removed } = lostSetup();
    const only = await (await engine.attach('v')).commit();
    const reader = await engine.attach('v');
    await backend.removeVersion(only.id);
    const fork = await engine.attach('v');
    expect(fork.result).toBe('miss');
    expect(removed).toEqual([`${only.id}:lost`]);
    expect((await reader.commit()).id).toBeTruthy();
  });

  it('gives up after three lost parents with the backend’s NOT_FOUND, leaving no fork behind', async () => {
    const { engine, backend, removed } = lostSetup();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await (await engine.attach('v')).commit()).id);
    for (const id of ids) await backend.removeVersion(id);
    await expect(engine.attach('v')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(removed).toEqual([`${ids[3]}:lost`, `${ids[2]}:lost`]);
    expect(await engine.forks()).toEqual([]);
    expect((await engine.attach('v')).baseVersionId).toBe(null);
  });
});

describe('CacheVolumes.gc: backend data and the state read at different moments', () => {
  it('a fork that commits while gc lists the backend is not reported as unaccounted', async () => {
    const { engine, backend } = setup();
    const fork = await engine.attach('v');
    const list = backend.list.bind(backend);
    let first = true;
    backend.list = async () => {
      const entries = await list();
      if (first) {
        first = false;
        await fork.commit(); // another job commits between the listing and the state read
      }
      return entries;
    };
    const report = await engine.gc();
    expect(report.reconcile.unaccounted).toEqual([]);
  });

  it('still reports data that no record owns', async () => {
    const { engine, backend } = setup();
    await backend.createFork('f-stray', { capacityBytes: GIB });
    const report = await engine.gc();
    expect(report.reconcile.unaccounted).toEqual([expect.objectContaining({ kind: 'fork', id: 'f-stray' })]);
  });
});

describe('CacheVolumes on a full disk (the store cannot write until space is freed)', () => {
  /** A store that fails every write while `disk.full`, and a backend whose discards free the disk. */
  function fullDisk() {
    const ctx = setup();
    const disk = { full: false, freedBy: [] as string[] };
    const transact = ctx.store.transact.bind(ctx.store);
    ctx.store.transact = (async (...args: Parameters<Store['transact']>) => {
      if (disk.full) throw new CacheVolumeError('STORE_FAILED', 'SQLITE_FULL: the disk is full');
      return transact(...args);
    }) as Store['transact'];
    const discardFork = ctx.backend.discardFork.bind(ctx.backend);
    ctx.backend.discardFork = async (forkId: string) => {
      await discardFork(forkId);
      disk.freedBy.push(forkId);
      disk.full = false;
    };
    return { ...ctx, disk };
  }

  it('a commit that cannot be recorded abandons the fork, freeing its space; the head stays', async () => {
    const { engine, backend, disk } = fullDisk();
    const head = await (await engine.attach('v')).commit();
    const fork = await engine.attach('v');
    disk.full = true; // the job filled the disk
    expect(await code(fork.commit())).toBe('STORE_FAILED');
    expect(new Set(disk.freedBy)).toEqual(new Set([fork.id]));
    expect(await engine.forks()).toEqual([]);
    expect((await backend.list()).filter((e) => e.kind === 'fork')).toEqual([]);
    expect((await engine.lookup('v')).version?.id).toBe(head.id);
  });

  it('an abandon that cannot be recorded discards the data first, then records the end', async () => {
    const { engine, backend, disk } = fullDisk();
    const fork = await engine.attach('v');
    disk.full = true;
    await fork.abandon();
    expect(new Set(disk.freedBy)).toEqual(new Set([fork.id]));
    expect(await engine.forks()).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });

  it('when discarding frees nothing, the abandon fails but the data is gone; recovery records the end', async () => {
    const { engine, backend, disk, clock } = fullDisk();
    const fork = await engine.attach('v');
    const discardFork = backend.discardFork;
    backend.discardFork = async (forkId: string) => {
      await discardFork(forkId);
      disk.full = true; // something else keeps the disk full
    };
    disk.full = true;
    expect(await code(fork.abandon())).toBe('STORE_FAILED');
    expect(await backend.list()).toEqual([]);
    disk.full = false;
    backend.discardFork = discardFork;
    clock.now += DAY_MS;
    await engine.reconcile();
    expect(await engine.forks()).toEqual([]);
  });
});

describe('CacheVolumes: a long attach', () => {
  it('renews the lease of the fork being made, so recovery does not abandon a copy in progress', async () => {
    const { engine, backend, store, clock } = setup({ leaseMs: 300 });
    await (await engine.attach('v')).commit();
    let release = () => {};
    const copying = new Promise<void>((resolve) => {
      release = resolve;
    });
    const forkVersion = backend.forkVersion.bind(backend);
    let started = () => {};
    const copyStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    backend.forkVersion = async (...args) => {
      started();
      await copying; // a big copy
      return forkVersion(...args);
    };
    const attaching = engine.attach('v');
    await copyStarted;
    const creating = async () => (await engine.forks()).find((f) => f.state === 'creating');
    const first = (await creating())?.expiresAt ?? 0;
    clock.now += 10_000; // far past the lease: without renewals recovery takes the fork
    for (let i = 0; i < 100 && ((await creating())?.expiresAt ?? 0) <= clock.now; i++)
      await new Promise((r) => setTimeout(r, 20)); // renewals come every 100 ms (a third of the lease)
    expect((await creating())?.expiresAt).toBeGreaterThan(Math.max(first, clock.now));
    await engine.reconcile();
    release();
    const fork = await attaching;
    expect(fork.result).toBe('hit');
    expect((await store.findFork(fork.id))?.state).toBe('attached');
  });
});
