import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SliceFunction, Store } from '../contracts/store.js';
import { isCacheVolumeError } from '../errors.js';
import type { ForkRecord, VolumeKey, VolumeRecord, VolumeSlice } from '../model/state.js';
import { arbSlices } from './arbitraries.js';
import { propertyParameters } from './parameters.js';
import { readAllSlices } from './read-all.js';
import { runStoreWorkers, type StoreWorker, startStalledWriter } from './store-workers.js';

/** One store under test, as {@link StoreConformanceOptions.create} makes it. */
export interface StoreUnderTest {
  /** A fresh, empty store. */
  store: Store;
  /**
   * Opens another client of the same store, as another process or host would (a second
   * database connection). Enables the tests with concurrent clients and reopening.
   */
  open?: () => Store | Promise<Store>;
  /**
   * Opens the same store in child processes (enables the multi-process tests: concurrent
   * writers, a stalled writer, a writer killed mid-transaction).
   */
  worker?: StoreWorker;
  /** Removes what the store left (its files, its schema). */
  cleanup?: () => void | Promise<void>;
}

/** Options for {@link describeStoreConformance}. */
export interface StoreConformanceOptions {
  /** Makes a fresh, empty store for each test. */
  create: () => StoreUnderTest | Promise<StoreUnderTest>;
  /**
   * The store can be opened by several clients at once (`StoreUnderTest.open`), as other
   * processes or hosts would: the tests of concurrent clients, claims and reopening run.
   * @defaultValue false
   */
  clients?: boolean;
  /**
   * The store can be opened in child processes (`StoreUnderTest.worker`): the tests of
   * concurrent processes, a stalled writer and a writer killed mid-transaction run.
   * @defaultValue false
   */
  processes?: boolean;
  /**
   * How long the stalled writer stays inside its transaction, in ms: longer than any lock,
   * busy or idle timeout the worker's store is configured with.
   * @defaultValue 3000
   */
  stallMs?: number;
  /** Per-test timeout in ms. @defaultValue 60000 */
  timeout?: number;
}

const T0 = 1_700_000_000_000;

/** A volume record with only counters, for tests that count increments. */
export function counterVolume(key: VolumeKey, hit = 0): VolumeRecord {
  return {
    scope: key.scope,
    name: key.name,
    seq: 0,
    versions: {},
    versionIds: [],
    counts: { hit, stale: 0, miss: 0 },
    lastUsedAt: T0,
  };
}

/** A transaction function that adds one to the volume's hit counter and returns the new value. */
export const increment: SliceFunction<number> = (slice) => {
  const hit = (slice.volume?.counts.hit ?? 0) + 1;
  const volume = slice.volume
    ? { ...slice.volume, counts: { ...slice.volume.counts, hit } }
    : counterVolume(slice, hit);
  return { slice: { ...slice, volume }, result: hit };
};

/** A fork record of a volume, attached unless `state` says otherwise. */
export function testFork(key: VolumeKey, id: string, overrides: Partial<ForkRecord> = {}): ForkRecord {
  return {
    id,
    scope: key.scope,
    name: key.name,
    baseId: null,
    result: 'miss',
    requestedBytes: 20 * 2 ** 30,
    capacityBytes: 20 * 2 ** 30,
    host: 'host-a',
    job: 'job',
    commitMode: 'on-success',
    createdAt: T0,
    expiresAt: T0 + 60_000,
    mountPath: `/mnt/${id}`,
    state: 'attached',
    versionId: null,
    commitAfterSeq: null,
    endedAt: null,
    ...overrides,
  };
}

const withForks =
  (...forks: ForkRecord[]): SliceFunction<void> =>
  (slice) => ({
    slice: {
      ...slice,
      volume: slice.volume ?? counterVolume(slice),
      forks: { ...slice.forks, ...Object.fromEntries(forks.map((f) => [f.id, f])) },
    },
    result: undefined,
  });

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Sorted keys, so slices compare equal whatever order a store returns record keys in. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  return value;
}

/**
 * The one conformance suite every {@link Store} runs, split by concern like keyv's
 * `storageTestSuite`: reading and writing slices exactly, atomicity (a throwing function
 * changes nothing), isolation (no aliasing), concurrency (in one process, across clients and
 * across processes), paging, claims, pruning, and the failure cases of a real store: a writer
 * stalled longer than every timeout never overwrites a newer update, and a writer killed in
 * the middle of a transaction leaves the previous state.
 *
 * @example
 * ```ts
 * describeStoreConformance('sqlite', {
 *   create: () => {
 *     const path = join(mkdtempSync(join(tmpdir(), 'st-')), 'state.db')
 *     return { store: createSqliteStore({ path }), open: () => createSqliteStore({ path }),
 *       worker: { module: fixture, config: { path } } }
 *   },
 * })
 * ```
 *
 * @param name - the store's name, for the suite title
 * @param options - the factory and timings
 */
export function describeStoreConformance(name: string, options: StoreConformanceOptions): void {
  describe(`Store conformance: ${name}`, { timeout: options.timeout ?? 60_000 }, () => {
    let made: StoreUnderTest | undefined;
    const opened: Store[] = [];
    const current = (): StoreUnderTest => {
      if (!made) throw new Error('no store: the suite factory has not run');
      return made;
    };
    const store = () => current().store;
    const another = async (): Promise<Store> => {
      const open = current().open;
      if (!open) throw new Error('the suite was told the store has clients, but create() gave no open()');
      const client = await open();
      opened.push(client);
      return client;
    };
    const key = { scope: 'pipe', name: 'deps' };
    const withClients = options.clients ? it : undefined;
    const workerOf = (): StoreWorker => {
      const worker = current().worker;
      if (!worker)
        throw new Error('the suite was told the store runs in processes, but create() gave no worker');
      return worker;
    };

    beforeEach(async () => {
      made = await options.create();
    });
    afterEach(async () => {
      for (const client of opened.splice(0)) await client.close().catch(() => undefined);
      await made?.store.close().catch(() => undefined);
      await made?.cleanup?.();
      made = undefined;
    });

    describe('reads and writes', () => {
      it('starts empty', async () => {
        expect(typeof store().name).toBe('string');
        const slice = await store().read(key);
        expect(slice).toEqual({ scope: 'pipe', name: 'deps', volume: null, forks: {} });
        expect(await store().listVolumes()).toEqual({ slices: [], next: null });
        expect(await store().findFork('f1')).toBeNull();
      });

      it('writes a slice and reads back exactly what it wrote', async () => {
        const fork = testFork(key, 'f1');
        await store().transact(key, withForks(fork));
        const slice = await store().read(key);
        expect(slice.volume).toEqual(counterVolume(key));
        expect(slice.forks).toEqual({ f1: fork });
        expect(await store().findFork('f1')).toEqual(fork);
      });

      it('keeps every field of any slice exactly (property)', async () => {
        await fc.assert(
          fc.asyncProperty(arbSlices(T0), async (slices) => {
            for (const slice of slices) {
              const scoped = {
                ...slice,
                scope: `p${slices.indexOf(slice)}-${Math.random().toString(36).slice(2)}`,
              };
              const rekey = <R extends { scope: string }>(r: R): R => ({ ...r, scope: scoped.scope });
              const written: VolumeSlice = {
                ...scoped,
                volume: scoped.volume && rekey(scoped.volume),
                // Fork ids are unique across volumes, as the engine's are: a run never reuses a
                // fork id that an earlier run wrote in another volume.
                forks: Object.fromEntries(
                  Object.values(scoped.forks).map((f) => {
                    const id = `${scoped.scope}-${f.id}`;
                    return [id, { ...rekey(f), id }];
                  }),
                ),
              };
              await store().transact(written, () => ({ slice: written, result: undefined }));
              const ids = Object.keys(written.forks);
              const back = await store().transact(written, (s) => ({ slice: s, result: s }), { forks: ids });
              expect(canonical(back)).toEqual(canonical(written));
              for (const fork of Object.values(written.forks))
                expect(canonical(await store().findFork(fork.id))).toEqual(canonical(fork));
            }
          }),
          propertyParameters(15),
        );
      });

      it('leaves ended forks out of a slice unless asked for, and keeps forks left out', async () => {
        const live = testFork(key, 'live');
        const ended = testFork(key, 'ended', { state: 'abandoned', endedAt: T0 + 5 });
        await store().transact(key, withForks(live, ended));
        expect(Object.keys((await store().read(key)).forks)).toEqual(['live']);
        const seen = await store().transact(key, (s) => ({ slice: s, result: Object.keys(s.forks).sort() }), {
          forks: ['ended', 'unknown'],
        });
        expect(seen).toEqual(['ended', 'live']);
        await store().transact(key, (s) => ({ slice: { ...s, forks: {} }, result: undefined }));
        expect(await store().findFork('live')).toEqual(live);
        expect(await store().findFork('ended')).toEqual(ended);
      });

      it('deletes the volume record when a transaction returns volume: null, keeping its forks', async () => {
        const ended = testFork(key, 'f1', { state: 'committed', endedAt: T0 });
        await store().transact(key, withForks(ended));
        await store().transact(key, (s) => ({ slice: { ...s, volume: null }, result: undefined }));
        expect((await store().read(key)).volume).toBeNull();
        expect((await store().listVolumes()).slices).toEqual([]);
        expect(await store().findFork('f1')).toEqual(ended);
      });

      it('accepts durable transactions', async () => {
        expect(await store().transact(key, increment, { durable: true })).toBe(1);
        expect((await store().read(key)).volume?.counts.hit).toBe(1);
      });
    });

    describe('atomicity', () => {
      it('changes nothing when the function throws, and passes the error through', async () => {
        await store().transact(key, increment);
        const boom = new Error('boom');
        const error = await caught(
          store().transact(key, (s) => {
            increment(s);
            throw boom;
          }),
        );
        expect(error).toBe(boom);
        expect((await store().read(key)).volume?.counts.hit).toBe(1);
        expect(await store().transact(key, increment)).toBe(2);
      });

      it('refuses a malformed result with INTERNAL and changes nothing', async () => {
        await store().transact(key, increment);
        const bad: SliceFunction<unknown>[] = [
          () => ({}) as never,
          () => ({ slice: null, result: 1 }) as never,
          (s) => ({ slice: { ...s, scope: 'other' }, result: 1 }),
          (s) => ({ slice: { ...s, forks: { f1: testFork({ scope: 'x', name: 'y' }, 'f1') } }, result: 1 }),
          (s) => ({ slice: { ...s, forks: { f2: testFork(key, 'f1') } }, result: 1 }),
        ];
        for (const fn of bad) {
          const error = await caught(store().transact(key, fn));
          expect(isCacheVolumeError(error, 'INTERNAL'), String(error)).toBe(true);
        }
        expect(await store().read(key)).toEqual({ ...key, volume: counterVolume(key, 1), forks: {} });
      });
    });

    describe('isolation', () => {
      it('never lets a caller change stored state through what it was given', async () => {
        const fork = testFork(key, 'f1');
        await store().transact(key, withForks(fork));
        const tamper = (slice: VolumeSlice) => {
          try {
            (slice.volume as VolumeRecord).counts.hit = 99;
          } catch {}
          try {
            (slice.forks.f1 as ForkRecord).state = 'committed';
          } catch {}
          try {
            slice.forks.f9 = testFork(key, 'f9');
          } catch {}
        };
        tamper(await store().read(key));
        const result = await store().transact(key, (s) => ({ slice: s, result: s }));
        tamper(result);
        const page = await store().listVolumes();
        tamper(page.slices[0] as VolumeSlice);
        const found = await store().findFork('f1');
        try {
          (found as ForkRecord).state = 'abandoned';
        } catch {}
        const inside = await store().transact(key, (s) => {
          const out = withForks(testFork(key, 'f2'))(s);
          return { slice: out.slice, result: out.slice };
        });
        tamper(inside);
        const slice = await store().read(key);
        expect(slice.volume?.counts.hit).toBe(0);
        expect(Object.keys(slice.forks).sort()).toEqual(['f1', 'f2']);
        expect(slice.forks.f1).toEqual(fork);
      });
    });

    describe('concurrency', () => {
      it('applies concurrent transactions on one volume one at a time', async () => {
        const results = await Promise.all(Array.from({ length: 40 }, () => store().transact(key, increment)));
        expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect((await store().read(key)).volume?.counts.hit).toBe(40);
      });

      it('keeps volumes apart under concurrent transactions', async () => {
        const keys = Array.from({ length: 8 }, (_, i) => ({ scope: 'pipe', name: `v${i}` }));
        await Promise.all(
          keys.flatMap((k) => Array.from({ length: 5 }, () => store().transact(k, increment))),
        );
        for (const k of keys) expect((await store().read(k)).volume?.counts.hit).toBe(5);
      });

      withClients?.('serialises transactions of concurrent clients', async () => {
        const clients = [store(), await another(), await another()];
        await Promise.all(
          clients.flatMap((c) => Array.from({ length: 15 }, () => c.transact(key, increment))),
        );
        for (const c of clients) expect((await c.read(key)).volume?.counts.hit).toBe(45);
      });

      withClients?.('shows one client what another wrote, and survives reopening', async () => {
        await store().transact(key, withForks(testFork(key, 'f1')));
        const other = await another();
        expect((await other.findFork('f1'))?.id).toBe('f1');
        await other.transact(key, increment);
        await other.close();
        const again = await another();
        expect((await again.read(key)).volume?.counts.hit).toBe(1);
        expect((await store().read(key)).volume?.counts.hit).toBe(1);
      });
    });

    describe('paging', () => {
      it('lists every volume once, in (scope, name) order, page by page', async () => {
        const keys = ['b', 'a', 'c'].flatMap((scope) =>
          Array.from({ length: 8 }, (_, i) => ({ scope, name: `vol-${String(i).padStart(2, '0')}` })),
        );
        for (const k of keys) await store().transact(k, increment);
        await store().transact({ scope: 'a', name: 'empty' }, (s) => ({ slice: s, result: undefined }));
        const seen: string[] = [];
        let after: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<Store['listVolumes']>> = await store().listVolumes({
            after,
            limit: 7,
          });
          expect(page.slices.length).toBeLessThanOrEqual(7);
          seen.push(...page.slices.map((s) => `${s.scope}/${s.name}`));
          after = page.next;
          pages++;
        } while (after !== null && pages < 10);
        const expected = keys.map((k) => `${k.scope}/${k.name}`).sort();
        expect(seen).toEqual(expected);
        expect(pages).toBeGreaterThanOrEqual(4);
        expect((await readAllSlices(store(), 100)).length).toBe(24);
      });

      it('refuses a cursor it did not make', async () => {
        const error = await caught(store().listVolumes({ after: 'not-a-cursor' }));
        expect(isCacheVolumeError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true);
      });
    });

    describe('claims', () => {
      const claimAll =
        (now: number, until: number, force = false): SliceFunction<string[]> =>
        (slice) => {
          const claimed: string[] = [];
          const forks = { ...slice.forks };
          for (const fork of Object.values(slice.forks)) {
            const intent =
              fork.state === 'creating' || fork.state === 'committing' || fork.state === 'abandoning';
            const live = intent || fork.state === 'attached';
            if (live && (fork.expiresAt <= now || (force && intent))) {
              forks[fork.id] = { ...fork, expiresAt: until };
              claimed.push(fork.id);
            }
          }
          return { slice: { ...slice, forks }, result: claimed };
        };

      async function seedDue() {
        const due = { scope: 's', name: 'due' };
        const later = { scope: 's', name: 'later' };
        const busy = { scope: 's', name: 'busy' };
        await store().transact(due, withForks(testFork(due, 'f-due', { expiresAt: T0 + 10 })));
        await store().transact(later, withForks(testFork(later, 'f-later', { expiresAt: T0 + 10_000 })));
        await store().transact(
          busy,
          withForks(
            testFork(busy, 'f-busy', {
              state: 'committing',
              versionId: 'v1',
              commitAfterSeq: 0,
              expiresAt: T0 + 10_000,
            }),
          ),
        );
        await store().transact({ scope: 's', name: 'idle' }, increment);
      }

      it('visits only volumes with work due, and a claim is not offered again', async () => {
        await seedDue();
        const first = await store().claimDue({ now: T0 + 100, limit: 10 }, claimAll(T0 + 100, T0 + 50_000));
        expect(first.flat()).toEqual(['f-due']);
        const second = await store().claimDue({ now: T0 + 100, limit: 10 }, claimAll(T0 + 100, T0 + 50_000));
        expect(second.flat()).toEqual([]);
        expect((await store().findFork('f-due'))?.expiresAt).toBe(T0 + 50_000);
        const forced = await store().claimDue(
          { now: T0 + 100, force: true, limit: 10 },
          claimAll(T0 + 100, T0 + 50_000, true),
        );
        expect(forced.flat()).toEqual(['f-busy']);
        const everything = await store().claimDue(
          { now: T0 + 60_000, limit: 10 },
          claimAll(T0 + 60_000, T0 + 90_000),
        );
        expect(everything.flat().sort()).toEqual(['f-busy', 'f-due', 'f-later']);
      });

      it('still offers a volume whose due fork a transaction left out of its slice', async () => {
        await seedDue();
        const due = { scope: 's', name: 'due' };
        // The function changes the record and returns no forks: f-due is kept, so it is still due.
        await store().transact(due, (s) => ({
          slice: { ...increment(s).slice, forks: {} },
          result: undefined,
        }));
        const claimed = await store().claimDue({ now: T0 + 100, limit: 10 }, claimAll(T0 + 100, T0 + 50_000));
        expect(claimed.flat()).toEqual(['f-due']);
      });

      it('respects the limit', async () => {
        for (let i = 0; i < 6; i++) {
          const k = { scope: 's', name: `v${i}` };
          await store().transact(k, withForks(testFork(k, `f${i}`, { expiresAt: T0 + i })));
        }
        const batch = await store().claimDue({ now: T0 + 100, limit: 4 }, claimAll(T0 + 100, T0 + 50_000));
        expect(batch.length).toBeLessThanOrEqual(4);
        expect(batch.flat().length).toBeGreaterThan(0);
      });

      withClients?.('gives each due item to exactly one of several concurrent claimers', async () => {
        for (let i = 0; i < 12; i++) {
          const k = { scope: 's', name: `v${i}` };
          await store().transact(k, withForks(testFork(k, `f${i}`, { expiresAt: T0 })));
        }
        const clients = [store(), await another(), await another()];
        const claimed = (
          await Promise.all(
            clients.map(async (c) => {
              const got: string[] = [];
              for (let round = 0; round < 6; round++)
                got.push(
                  ...(await c.claimDue({ now: T0 + 1, limit: 3 }, claimAll(T0 + 1, T0 + 50_000))).flat(),
                );
              return got;
            }),
          )
        ).flat();
        expect([...claimed].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `f${i}`).sort());
      });
    });

    describe('pruning', () => {
      it('deletes ended forks older than the cut-off and nothing else', async () => {
        await store().transact(
          key,
          withForks(
            testFork(key, 'old', { state: 'committed', endedAt: T0 }),
            testFork(key, 'new', { state: 'abandoned', endedAt: T0 + 1000 }),
            testFork(key, 'live'),
          ),
        );
        expect(await store().pruneForks(T0 + 500)).toBe(1);
        expect(await store().findFork('old')).toBeNull();
        expect(await store().findFork('new')).not.toBeNull();
        expect(await store().findFork('live')).not.toBeNull();
        expect(await store().pruneForks(T0 + 500)).toBe(0);
      });
    });

    describe('closing', () => {
      it('fails calls after close with STORE_FAILED', async () => {
        const client = options.clients ? await another() : store();
        await client.close();
        const error = await caught(client.read(key));
        expect(isCacheVolumeError(error, 'STORE_FAILED'), String(error)).toBe(true);
      });
    });

    if (options.processes) {
      describe('several processes', () => {
        it('serialises writers in several processes: no increment is lost', async () => {
          const worker = workerOf();
          const results = await runStoreWorkers(
            worker,
            [
              ...Array.from({ length: 4 }, () => ({ task: 'increment' as const, key, count: 25 })),
              ...Array.from({ length: 4 }, (_, i) => ({
                task: 'increment' as const,
                key: { scope: 'own', name: `p${i}` },
                count: 10,
              })),
            ],
            { patient: true },
          );
          for (const r of results) expect(r.errors, r.errors.join('\n')).toEqual([]);
          expect((await store().read(key)).volume?.counts.hit).toBe(100);
          for (let i = 0; i < 4; i++)
            expect((await store().read({ scope: 'own', name: `p${i}` })).volume?.counts.hit).toBe(10);
        });

        it('never lets a writer stalled past every timeout overwrite a newer update', async () => {
          const worker = workerOf();
          await store().transact(key, increment);
          const stalled = await startStalledWriter(worker, key);
          // While the stalled writer is inside its transaction, others keep trying to write.
          const others = await runStoreWorkers(worker, [
            { task: 'increment', key, count: 5, spreadMs: options.stallMs ?? 3000 },
          ]);
          const ownClient = await Promise.allSettled(
            Array.from({ length: 3 }, () => store().transact(key, increment)),
          );
          const stalledOutcome = await stalled.release();
          const acknowledged =
            1 +
            others.reduce((sum, r) => sum + r.ok, 0) +
            ownClient.filter((r) => r.status === 'fulfilled').length +
            (stalledOutcome.ok ? 1 : 0);
          expect((await store().read(key)).volume?.counts.hit).toBe(acknowledged);
          expect(await store().transact(key, increment)).toBe(acknowledged + 1);
        });

        it('leaves the previous state when a writer is killed mid-transaction', async () => {
          const worker = workerOf();
          await store().transact(key, increment);
          const stalled = await startStalledWriter(worker, key);
          await stalled.kill();
          expect((await store().read(key)).volume?.counts.hit).toBe(1);
          expect(await store().transact(key, increment)).toBe(2);
        });
      });
    }
  });
}
