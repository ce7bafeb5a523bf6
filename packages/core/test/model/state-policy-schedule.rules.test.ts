import { describe, expect, it } from 'vitest';
import { countAttach, countsWithin, HISTORY_HOURS, HOUR_MS } from '../../src/model/history.js';
import { DAY_MS, DEFAULT_POLICY, resolvePolicy } from '../../src/model/policy.js';
import { isDue, isIntent, sliceSchedule } from '../../src/model/schedule.js';
import {
  COMMIT_MODES,
  compareVersionOrder,
  emptySlice,
  type ForkState,
  isLive,
  LIVE_FORK_STATES,
  versionOrder,
  volumeKeyString,
} from '../../src/model/state.js';
import { sliceStats, volumeStats } from '../../src/model/stats.js';
import { fork, sliceOf, T0, version, volumeOf } from './fixtures.js';

/** Rules of the model's small pieces: state helpers, the default policy, schedules and stats. */

const ALL: ForkState[] = ['creating', 'attached', 'committing', 'committed', 'abandoning', 'abandoned'];

describe('the default policy', () => {
  it('is the seeds (14 days of retention, no transfer, no staleness, usage or byte limits) and keeps two versions per volume', () => {
    expect(DAY_MS).toBe(86_400_000);
    expect(DEFAULT_POLICY).toEqual({
      retentionMs: 14 * 86_400_000,
      maxStaleVersions: Number.POSITIVE_INFINITY,
      maxStaleMs: Number.POSITIVE_INFINITY,
      maxForksPerVersion: Number.POSITIVE_INFINITY,
      transfer: false,
      maxTotalBytes: Number.POSITIVE_INFINITY,
      maxVersionsPerVolume: 2,
    });
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
  });

  it('resolvePolicy fills in every default, applies the overrides given, and skips undefined ones', () => {
    expect(resolvePolicy()).toEqual(DEFAULT_POLICY);
    expect(resolvePolicy({ retentionMs: 5, transfer: true, maxTotalBytes: undefined })).toEqual({
      ...DEFAULT_POLICY,
      retentionMs: 5,
      transfer: true,
    });
    const resolved = resolvePolicy({ maxStaleVersions: 0 });
    expect(resolved.maxStaleVersions).toBe(0);
    expect(resolved).not.toBe(DEFAULT_POLICY);
    expect(DEFAULT_POLICY.maxStaleVersions).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('state helpers', () => {
  it('live fork states are creating, attached, committing and abandoning; committed and abandoned are ended', () => {
    expect([...LIVE_FORK_STATES]).toEqual(['creating', 'attached', 'committing', 'abandoning']);
    expect(ALL.filter((state) => isLive(fork('f', { state })))).toEqual([
      'creating',
      'attached',
      'committing',
      'abandoning',
    ]);
  });

  it('intents are creating, committing and abandoning', () => {
    expect(ALL.filter((state) => isIntent(fork('f', { state })))).toEqual([
      'creating',
      'committing',
      'abandoning',
    ]);
  });

  it('knows every commit mode, in documentation order', () => {
    expect(COMMIT_MODES).toEqual(['on-success', 'always', 'never', 'on-change', 'if-missing']);
  });

  it('an empty slice has the key, no record and no forks', () => {
    expect(emptySlice({ scope: 'a', name: 'b' })).toEqual({ scope: 'a', name: 'b', volume: null, forks: {} });
  });

  it('a volume key string joins scope and name with NUL, which neither may contain', () => {
    expect(volumeKeyString({ scope: 'a/b', name: 'c' })).toBe('a/b\u0000c');
    expect(volumeKeyString({ scope: 'a', name: 'b/c' })).not.toBe(
      volumeKeyString({ scope: 'a/b', name: 'c' }),
    );
  });

  it('head order: a normal commit sorts by seq; a repaired one right after the seq it began after', () => {
    expect(versionOrder(version('v', 4))).toEqual([4, 0]);
    expect(versionOrder(version('v', 4, { orderedAfterSeq: 2 }))).toEqual([2, 1, 4]);
    expect(versionOrder({ ...version('v', 4), orderedAfterSeq: undefined as unknown as null })).toEqual([
      4, 0,
    ]);
    const [v1, v2, v3] = [version('v1', 1), version('v2', 2), version('v3', 3)];
    const r4 = version('r4', 4, { orderedAfterSeq: 1 });
    const r5 = version('r5', 5, { orderedAfterSeq: 1 });
    const sorted = [v3, r5, v2, r4, v1].sort(compareVersionOrder).map((v) => v.id);
    expect(sorted).toEqual(['v1', 'r4', 'r5', 'v2', 'v3']);
    expect(compareVersionOrder(v1, v2)).toBeLessThan(0);
    expect(compareVersionOrder(v2, v1)).toBeGreaterThan(0);
    expect(compareVersionOrder(v1, r4)).toBeLessThan(0);
    expect(compareVersionOrder(r4, v1)).toBeGreaterThan(0);
    expect(compareVersionOrder(r4, v2)).toBeLessThan(0);
    expect(compareVersionOrder(v2, version('x', 2))).toBe(0);
  });
});

describe('sliceSchedule and isDue', () => {
  it('is due at the earliest lease end of its live forks and removing versions', () => {
    const slice = sliceOf(
      [version('v1', 1, { state: 'removing', leaseUntil: T0 + 30 }), version('v2', 2, { leaseUntil: T0 })],
      [
        fork('a', { expiresAt: T0 + 20 }),
        fork('b', { state: 'committing', expiresAt: T0 + 40 }),
        fork('c', { state: 'abandoned', expiresAt: T0 }),
      ],
    );
    expect(sliceSchedule(slice)).toEqual({ dueAt: T0 + 20, hasIntent: true });
    expect(
      sliceSchedule(sliceOf([version('v1', 1, { state: 'removing', leaseUntil: T0 + 5 })], [fork('a')])),
    ).toEqual({
      dueAt: T0 + 5,
      hasIntent: true,
    });
  });

  it('a removing version without a lease is due at once', () => {
    expect(sliceSchedule(sliceOf([version('v1', 1, { state: 'removing', leaseUntil: null })]))).toEqual({
      dueAt: 0,
      hasIntent: true,
    });
  });

  it('attached forks are due but are no intent; ended forks and committed versions are nothing', () => {
    expect(sliceSchedule(sliceOf([version('v1', 1)], [fork('a', { expiresAt: T0 + 9 })]))).toEqual({
      dueAt: T0 + 9,
      hasIntent: false,
    });
    expect(sliceSchedule(sliceOf([version('v1', 1)], [fork('a', { state: 'committed' })]))).toEqual({
      dueAt: null,
      hasIntent: false,
    });
    expect(sliceSchedule(sliceOf(null))).toEqual({ dueAt: null, hasIntent: false });
    for (const state of ['creating', 'committing', 'abandoning'] as ForkState[])
      expect(sliceSchedule(sliceOf([], [fork('a', { state })])).hasIntent).toBe(true);
  });

  it('isDue: due at or after dueAt; with force whenever an intent is in flight', () => {
    expect(isDue({ dueAt: T0, hasIntent: false }, T0)).toBe(true);
    expect(isDue({ dueAt: T0, hasIntent: false }, T0 - 1)).toBe(false);
    expect(isDue({ dueAt: null, hasIntent: false }, T0)).toBe(false);
    expect(isDue({ dueAt: null, hasIntent: true }, T0)).toBe(false);
    expect(isDue({ dueAt: null, hasIntent: true }, T0, true)).toBe(true);
    expect(isDue({ dueAt: T0 + 1, hasIntent: false }, T0, true)).toBe(false);
  });
});

describe('hourly attach history', () => {
  const H = Math.floor(T0 / HOUR_MS);
  it('counts each attach in the bucket of its hour, making one when the hour is new', () => {
    const one = countAttach(undefined, T0, 'miss');
    expect(one).toEqual([{ hour: H, hit: 0, stale: 0, miss: 1 }]);
    const two = countAttach(one, T0 + 1, 'hit');
    expect(two).toEqual([{ hour: H, hit: 1, stale: 0, miss: 1 }]);
    expect(one).toEqual([{ hour: H, hit: 0, stale: 0, miss: 1 }]); // not changed in place
    expect(countAttach(two, T0 + HOUR_MS, 'stale')).toEqual([
      { hour: H, hit: 1, stale: 0, miss: 1 },
      { hour: H + 1, hit: 0, stale: 1, miss: 0 },
    ]);
  });

  it('keeps 7 days of buckets: an older one is dropped at the next attach', () => {
    expect([HISTORY_HOURS, HOUR_MS]).toEqual([168, 3_600_000]);
    const old = [
      { hour: H - HISTORY_HOURS, hit: 5, stale: 0, miss: 0 },
      { hour: H - HISTORY_HOURS + 1, hit: 1, stale: 0, miss: 0 },
    ];
    expect(countAttach(old, T0, 'hit').map((b) => b.hour)).toEqual([H - HISTORY_HOURS + 1, H]);
  });

  it('sums the buckets of a window that ends now, the current hour included', () => {
    const buckets = [
      { hour: H - 24, hit: 100, stale: 0, miss: 0 },
      { hour: H - 23, hit: 1, stale: 2, miss: 3 },
      { hour: H, hit: 4, stale: 0, miss: 1 },
      { hour: H + 1, hit: 50, stale: 0, miss: 0 }, // a clock that went back: not counted
    ];
    expect(countsWithin(buckets, T0, 24)).toEqual({ hit: 5, stale: 2, miss: 4 });
    expect(countsWithin(buckets, T0, 25)).toEqual({ hit: 105, stale: 2, miss: 4 });
    expect(countsWithin(undefined, T0, 24)).toEqual({ hit: 0, stale: 0, miss: 0 });
  });
});

describe('stats', () => {
  it('has no stats for a slice without a record', () => {
    expect(sliceStats(sliceOf(null), T0)).toBeNull();
  });

  it('reports counts, hit ratio, committed versions, head, bytes, live forks and last use', () => {
    const slice = sliceOf(
      [
        version('v1', 1, { usedBytes: 5 }),
        version('v2', 2, { usedBytes: 7 }),
        version('v3', 3, { usedBytes: 100, state: 'removing' }),
      ],
      [fork('a'), fork('b', { state: 'creating' }), fork('c', { state: 'abandoned' })],
      {
        counts: { hit: 3, stale: 1, miss: 4 },
        lastUsedAt: T0 + 3,
        hourly: [
          { hour: Math.floor(T0 / HOUR_MS) - 30, hit: 0, stale: 1, miss: 3 },
          { hour: Math.floor(T0 / HOUR_MS), hit: 2, stale: 0, miss: 0 },
        ],
      },
    );
    const stats = sliceStats(slice, T0);
    expect(stats).toEqual({
      scope: 's',
      name: 'vol',
      counts: { hit: 3, stale: 1, miss: 4 },
      hitRatio: 3 / 8,
      recent: {
        day: { hit: 2, stale: 0, miss: 0, hitRatio: 1 },
        week: { hit: 2, stale: 1, miss: 3, hitRatio: 2 / 6 },
      },
      emptyHead: false,
      versions: 2,
      headId: 'v2',
      headBytes: 7,
      storedBytes: 12,
      liveForks: 2,
      lastUsedAt: T0 + 3,
    });
    expect(stats?.counts).not.toBe(slice.volume?.counts);
  });

  it('has a null hit ratio before the first attach and no head or bytes without versions', () => {
    expect(sliceStats(sliceOf([]), T0)).toMatchObject({
      hitRatio: null,
      recent: { day: { hitRatio: null }, week: { hitRatio: null } },
      emptyHead: false,
      headId: null,
      headBytes: 0,
      storedBytes: 0,
    });
  });

  it('flags a head that holds no data', () => {
    expect(sliceStats(sliceOf([version('v1', 1, { usedBytes: 0 })]), T0)?.emptyHead).toBe(true);
    expect(sliceStats(sliceOf([version('v1', 1, { usedBytes: 1 })]), T0)?.emptyHead).toBe(false);
  });

  it('sorts volumes by scope, then name, and leaves out slices without a record', () => {
    const key = (scope: string, name: string) => ({
      ...sliceOf(null),
      scope,
      name,
      volume: { ...volumeOf([]), scope, name },
    });
    const stats = volumeStats(
      [key('b', 'a'), key('a', 'z'), sliceOf(null), key('a', 'b'), key('c', 'a'), key('a', 'c')],
      T0,
    );
    expect(stats.map((s) => `${s.scope}/${s.name}`)).toEqual(['a/b', 'a/c', 'a/z', 'b/a', 'c/a']);
    expect(volumeStats([key('b', 'a'), key('a', 'b')], T0).map((s) => s.scope)).toEqual(['a', 'b']);
    expect(volumeStats([key('a', 'b'), key('b', 'a')], T0).map((s) => s.scope)).toEqual(['a', 'b']);
  });
});
