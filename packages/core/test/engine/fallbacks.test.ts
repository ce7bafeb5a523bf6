import { createMemoryBackend, type MemoryBackend } from '@cachevol/backend-memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  CacheVolumes,
  type CacheVolumesOptions,
  createMemoryStore,
  GIB,
  MAX_FALLBACKS,
  type Store,
  type VolumeSlice,
} from '../../src/index.js';
import { crashable, propertyParameters, SimulatedCrash } from '../../src/testing/index.js';

const T0 = 1_700_000_000_000;
const MAIN = { name: 'deps', scope: 'main' };

function setup(overrides: Partial<CacheVolumesOptions> = {}, backend: MemoryBackend = createMemoryBackend()) {
  const clock = { now: T0 };
  const store = createMemoryStore();
  const engine = new CacheVolumes({ backend, store, host: 'h1', clock: () => clock.now, ...overrides });
  return { clock, backend, store: (overrides.store ?? store) as Store, engine };
}

/** Commits a version of `name` in `scope` holding `files`. */
async function commitFiles(
  { engine, backend }: { engine: CacheVolumes; backend: MemoryBackend },
  key: { name: string; scope: string; host?: string },
  files: Record<string, string>,
) {
  const fork = await engine.attach(key.name, { scope: key.scope, host: key.host });
  for (const [path, text] of Object.entries(files)) backend.files(fork).write(path, text);
  return fork.commit();
}

async function code(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? String(e),
  );
}

/** What a fallback must leave as it was: versions and head order, counts, forks. */
function unchangedPart(slice: VolumeSlice) {
  return {
    versionIds: slice.volume?.versionIds,
    counts: slice.volume?.counts,
    hourly: slice.volume?.hourly,
    seq: slice.volume?.seq,
    forks: slice.forks,
    borrows: Object.values(slice.volume?.versions ?? {}).flatMap((v) => Object.keys(v.borrows ?? {})),
  };
}

describe('fallback volumes', () => {
  it("forks the fallback's head on a miss, commits to the requested volume, and leaves the fallback as it was", async () => {
    const t = setup();
    const mainHead = await commitFiles(t, MAIN, { 'node_modules/a.js': 'main' });
    const mainBefore = await t.store.read(MAIN);

    const planned = await t.engine.lookup('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    expect(planned).toMatchObject({
      result: 'miss',
      version: null,
      source: { ...MAIN, versionId: mainHead.id },
    });
    expect((await t.engine.lookup('deps', { scope: 'feature-x' })).source).toBeNull();
    const fork = await t.engine.attach('deps', { scope: 'feature-x', size: '30g', fallbacks: [MAIN] });
    expect(fork.result).toBe('miss');
    expect(fork.baseVersionId).toBeNull();
    expect(fork.source).toEqual({
      ...MAIN,
      versionId: mainHead.id,
      result: 'hit',
      usedBytes: mainHead.usedBytes,
    });
    expect(fork.capacityBytes).toBe(30 * GIB + mainHead.usedBytes);
    expect(t.backend.files(fork).snapshot()).toEqual({ 'node_modules/a.js': 'main' });

    t.backend.files(fork).write('node_modules/b.js', 'feature');
    const version = await fork.commit();
    expect(version.baseId).toBeNull();
    expect(version.seq).toBe(1);
    const again = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    expect(again.result).toBe('hit');
    expect(again.source).toBeNull();
    expect(t.backend.files(again).snapshot()).toEqual({
      'node_modules/a.js': 'main',
      'node_modules/b.js': 'feature',
    });

    const mainAfter = await t.store.read(MAIN);
    expect(unchangedPart(mainAfter)).toEqual(unchangedPart(mainBefore));
    expect(mainAfter.volume?.versions[mainHead.id]?.borrows).toBeUndefined();
    const main = await t.engine.attach('deps', { scope: 'main' });
    expect(t.backend.files(main).snapshot()).toEqual({ 'node_modules/a.js': 'main' });
    const stats = await t.engine.stats();
    expect(stats.find((s) => s.scope === 'feature-x')?.counts).toEqual({ hit: 1, stale: 0, miss: 1 });
  });

  it('is not used when the requested volume has a usable version', async () => {
    const t = setup();
    await commitFiles(t, MAIN, { f: 'main' });
    const own = await commitFiles(t, { name: 'deps', scope: 'feature-x' }, { f: 'own' });
    const fork = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    expect(fork.result).toBe('hit');
    expect(fork.baseVersionId).toBe(own.id);
    expect(fork.source).toBeNull();
    expect(t.backend.files(fork).readText('f')).toBe('own');
  });

  it('takes the first listed fallback that has data; a bare name is in the attach scope', async () => {
    const t = setup();
    await commitFiles(t, { name: 'deps-b', scope: 'pipe' }, { f: 'b' });
    await commitFiles(t, { name: 'deps-c', scope: 'pipe' }, { f: 'c' });
    const fork = await t.engine.attach('deps-a', {
      scope: 'pipe',
      fallbacks: ['nothing-here', { name: 'deps-b' }, 'deps-c'],
    });
    expect(fork.source).toMatchObject({ scope: 'pipe', name: 'deps-b', result: 'hit' });
    expect(t.backend.files(fork).readText('f')).toBe('b');
  });

  it('starts empty when no fallback has data, and then failOnMiss throws NOT_FOUND', async () => {
    const t = setup();
    const fork = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    expect(fork.result).toBe('miss');
    expect(fork.source).toBeNull();
    await fork.abandon();
    await expect(
      t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN], failOnMiss: true }),
    ).rejects.toThrow(/no usable version, nor has any of its fallback volumes, and failOnMiss is set/);
  });

  it('counts a fork of a fallback as found: failOnMiss does not throw', async () => {
    const t = setup();
    await commitFiles(t, MAIN, { f: 'main' });
    const fork = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN], failOnMiss: true });
    expect(fork.result).toBe('miss');
    expect(fork.source?.name).toBe('deps');
  });

  it('refuses bad fallback names and more than MAX_FALLBACKS with INVALID_ARGUMENT', async () => {
    const { engine } = setup();
    expect(await code(engine.attach('deps', { fallbacks: ['../up'] }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.attach('deps', { fallbacks: [{ name: 'x', scope: 'a b' }] }))).toBe(
      'INVALID_ARGUMENT',
    );
    const many = Array.from({ length: MAX_FALLBACKS + 1 }, (_, i) => `v${i}`);
    await expect(engine.attach('deps', { fallbacks: many })).rejects.toThrow(/at most 8 fallback volumes/);
    expect(await code(engine.attach('deps', { fallbacks: many.slice(1) }))).toBe('resolved');
  });

  it("keeps the fallback's version from retention and removal while the fork is made, and not after", async () => {
    const memory = createMemoryBackend();
    const during: Record<string, string> = {};
    let inFork: (() => Promise<void>) | undefined;
    const backend: Backend = {
      ...memory,
      async forkVersion(forkId, versionId, options) {
        await inFork?.();
        return memory.forkVersion(forkId, versionId, options);
      },
    };
    const t = setup({ backend, policy: { retentionMs: 1000 } }, memory);
    const older = await commitFiles(t, MAIN, { f: 'older' });
    const mainHead = await commitFiles(t, MAIN, { f: 'main' });
    inFork = async () => {
      inFork = undefined;
      t.clock.now += 5000; // main's version is idle past retention now
      during.rm = await code(t.engine.removeVolume('deps', { scope: 'main' }));
      during.left = ((await t.store.read(MAIN)).volume?.versionIds ?? []).join(',');
      during.gc = (await t.engine.gc()).removedVersions.map((v) => v.versionId).join(',');
    };
    const fork = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    // rm removes nothing; gc removes main's idle older version, never the borrowed one.
    expect(during).toEqual({ rm: 'CONFLICT', left: `${older.id},${mainHead.id}`, gc: older.id });
    expect(fork.source?.versionId).toBe(mainHead.id);
    // Made, the fork no longer needs it: main can go, and the fork keeps its files.
    expect(await t.engine.removeVolume('deps', { scope: 'main' })).toEqual([mainHead.id]);
    expect(t.backend.files(fork).readText('f')).toBe('main');
    await fork.commit();
    const next = await t.engine.attach('deps', { scope: 'feature-x' });
    expect(t.backend.files(next).readText('f')).toBe('main');
  });

  it("passes over a fallback version whose data is gone, removing it from the fallback's volume as lost", async () => {
    const t = setup();
    const old = await commitFiles(t, MAIN, { f: 'old' });
    const head = await commitFiles(t, MAIN, { f: 'head' });
    await t.backend.removeVersion(head.id); // deleted under the engine
    const warnings: string[] = [];
    t.engine.on('warning', ({ message }) => warnings.push(message));
    const fork = await t.engine.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] });
    expect(fork.source).toMatchObject({ versionId: old.id, result: 'hit' });
    expect(t.backend.files(fork).readText('f')).toBe('old');
    expect(warnings.join('\n')).toContain(`Version "${head.id}" of volume "deps" (scope "main") has no data`);
    expect((await t.store.read(MAIN)).volume?.versionIds).toEqual([old.id]);
  });

  it('reconcile ends the borrow of an attach that crashed while the fork was being made', async () => {
    const t = setup();
    const mainHead = await commitFiles(t, MAIN, { f: 'main' });
    // Steps: the borrow (0) and the attach intent (1) are written, then the process dies.
    const dying = crashable(t.backend, t.store, 1);
    const doomed = new CacheVolumes({
      backend: dying.backend,
      store: dying.store,
      host: 'h1',
      clock: () => t.clock.now,
    });
    await expect(doomed.attach('deps', { scope: 'feature-x', fallbacks: [MAIN] })).rejects.toBeInstanceOf(
      SimulatedCrash,
    );
    const borrowed = (await t.store.read(MAIN)).volume?.versions[mainHead.id]?.borrows;
    expect(Object.keys(borrowed ?? {})).toHaveLength(1);
    const report = await t.engine.reconcile({ force: true });
    expect(report.abandoned).toHaveLength(1);
    expect((await t.store.read(MAIN)).volume?.versions[mainHead.id]?.borrows).toBeUndefined();
    expect(await t.engine.removeVolume('deps', { scope: 'main' })).toEqual([mainHead.id]);
  });

  it('property: the base is the fallback head exactly when the requested volume has nothing usable', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(3),
        fc.nat(2),
        fc.boolean(),
        fc.boolean(),
        async (mainCommits, ownCommits, ownElsewhere, failOnMiss) => {
          // Versions of the requested volume on another host are not usable here (no transfer).
          const t = setup({ policy: { transfer: false } });
          for (let i = 0; i < mainCommits; i++) await commitFiles(t, MAIN, { who: `main-${i}` });
          const own = { name: 'deps', scope: 'feature', host: ownElsewhere ? 'h2' : 'h1' };
          for (let i = 0; i < ownCommits; i++) await commitFiles(t, own, { who: `own-${i}` });
          const ownLookup = await t.engine.lookup('deps', { scope: 'feature' });
          const mainLookup = await t.engine.lookup(MAIN.name, { scope: MAIN.scope });
          const mainBefore = unchangedPart(await t.store.read(MAIN));
          const planned = await t.engine.lookup('deps', { scope: 'feature', fallbacks: [MAIN] });
          expect(unchangedPart(await t.store.read(MAIN))).toEqual(mainBefore);

          const attach = t.engine.attach('deps', { scope: 'feature', fallbacks: [MAIN], failOnMiss });
          if (failOnMiss && ownLookup.result === 'miss' && mainLookup.result === 'miss') {
            expect(await code(attach)).toBe('NOT_FOUND');
            return;
          }
          const fork = await attach;
          expect(fork.source).toEqual(planned.source);
          expect(fork.baseVersionId).toBe(planned.version?.id ?? null);
          if (ownLookup.result !== 'miss') {
            expect(fork.source).toBeNull();
            expect(fork.baseVersionId).toBe(ownLookup.version?.id);
            expect(t.backend.files(fork).readText('who')).toBe(`own-${ownCommits - 1}`);
          } else if (mainLookup.version) {
            expect(fork.result).toBe('miss');
            expect(fork.source?.versionId).toBe(mainLookup.version.id);
            expect(t.backend.files(fork).readText('who')).toBe(`main-${mainCommits - 1}`);
          } else {
            expect(fork.source).toBeNull();
            expect(t.backend.files(fork).snapshot()).toEqual({});
          }
          t.backend.files(fork).write('mine', 'yes');
          const version = await fork.commit();
          const slice = await t.store.read({ name: 'deps', scope: 'feature' });
          expect(slice.volume?.versionIds.at(-1)).toBe(version.id);
          expect(version.baseId).toBe(fork.baseVersionId);
          expect(unchangedPart(await t.store.read(MAIN))).toEqual(mainBefore);
        },
      ),
      propertyParameters(40),
    );
  });
});
