import { describe, expect, it } from 'vitest';
import { DAY_MS, DEFAULT_POLICY, type Policy, resolvePolicy } from '../../src/model/policy.js';
import { isRemovable, planRetention, retentionPlanner } from '../../src/model/retention.js';
import { headOf, isExpired, selectParent } from '../../src/model/selection.js';
import type { VersionRecord, VolumeSlice } from '../../src/model/state.js';
import { fork, sliceOf, T0, version, volumeOf } from './fixtures.js';

/**
 * One test per rule of parent selection (`model/selection.ts`) and retention
 * (`model/retention.ts`), named after the rule.
 */

const select = (versions: VersionRecord[], policy: Partial<Policy> = {}, now = T0, host = 'h', forks = []) =>
  selectParent(volumeOf(versions), forks, { host, now }, resolvePolicy(policy));

describe('headOf', () => {
  it('is undefined without a volume or without a committed version', () => {
    expect(headOf(undefined)).toBeUndefined();
    expect(headOf(volumeOf([]))).toBeUndefined();
    expect(headOf(volumeOf([version('v1', 1, { state: 'removing' })]))).toBeUndefined();
  });

  it('is the last committed version in head order, skipping removing ones', () => {
    expect(headOf(volumeOf([version('v1', 1)]))?.id).toBe('v1');
    expect(headOf(volumeOf([version('v1', 1), version('v2', 2)]))?.id).toBe('v2');
    expect(headOf(volumeOf([version('v1', 1), version('v2', 2, { state: 'removing' })]))?.id).toBe('v1');
  });

  it('skips an id in versionIds that has no record, rather than failing', () => {
    const volume = { ...volumeOf([version('v1', 1)]), versionIds: ['v1', 'v-lost'] };
    expect(headOf(volume)?.id).toBe('v1');
    expect(selectParent(volume, [], { host: 'h', now: T0 }, DEFAULT_POLICY).version?.id).toBe('v1');
  });

  it('follows versionIds, not seq (a repaired commit below a newer one is not head)', () => {
    const repaired = version('v3', 3, { orderedAfterSeq: 1 });
    expect(headOf(volumeOf([version('v1', 1), repaired, version('v2', 2)]))?.id).toBe('v2');
  });
});

describe('isExpired', () => {
  it('a version idle exactly the retention period is expired; one millisecond less is not', () => {
    const v = version('v1', 1, { lastUsedAt: T0 });
    expect(isExpired(v, T0 + 1000, 1000)).toBe(true);
    expect(isExpired(v, T0 + 999, 1000)).toBe(false);
  });
});

describe('selectParent', () => {
  it('misses with no-versions when there is no volume or no committed version', () => {
    const miss = { result: 'miss', version: null, reason: 'no-versions' };
    expect(selectParent(undefined, [], { host: 'h', now: T0 }, DEFAULT_POLICY)).toEqual(miss);
    expect(select([version('v1', 1, { state: 'removing' })])).toEqual(miss);
  });

  it('hits the head when it is usable', () => {
    const head = version('v2', 2);
    expect(select([version('v1', 1), head])).toEqual({ result: 'hit', version: head, reason: 'head' });
  });

  it('never selects a removing version, even one newer than the head', () => {
    const s = select([version('v1', 1), version('v2', 2, { state: 'removing' })]);
    expect(s.version?.id).toBe('v1');
    expect(s.result).toBe('hit');
  });

  it('takes the newest usable older version as stale when the head is unusable', () => {
    const old = version('v1', 1);
    const older = version('v0', 0);
    const s = select([older, old, version('v2', 2, { hosts: ['elsewhere'] })]);
    expect(s).toEqual({ result: 'stale', version: old, reason: 'head-unavailable' });
  });

  it('misses with none-usable when no version is usable', () => {
    expect(select([version('v1', 1, { hosts: ['x'] })])).toEqual({
      result: 'miss',
      version: null,
      reason: 'none-usable',
    });
  });

  it('passes over expired versions (idle >= retention)', () => {
    const expired = version('v2', 2, { lastUsedAt: T0 - 1000 });
    expect(select([version('v1', 1), expired], { retentionMs: 1000 }).version?.id).toBe('v1');
    expect(select([version('v1', 1), expired], { retentionMs: 1001 }).version?.id).toBe('v2');
  });

  it('uses only versions on the requesting host unless the policy allows transfer', () => {
    const remote = version('v2', 2, { hosts: ['other'] });
    expect(select([version('v1', 1), remote]).version?.id).toBe('v1');
    expect(select([version('v1', 1), remote], { transfer: true }).version?.id).toBe('v2');
    expect(select([version('v1', 1, { hosts: ['a', 'h'] })]).result).toBe('hit');
  });

  it('maxStaleVersions counts the committed versions newer than the candidate (removing ones do not count)', () => {
    const versions = [
      version('v1', 1),
      version('v2', 2, { state: 'removing' }),
      version('v3', 3, { hosts: ['x'] }),
    ];
    expect(select(versions, { maxStaleVersions: 1 }).version?.id).toBe('v1');
    expect(select(versions, { maxStaleVersions: 0 }).result).toBe('miss');
    const two = [version('v1', 1), version('v2', 2, { hosts: ['x'] }), version('v3', 3, { hosts: ['x'] })];
    expect(select(two, { maxStaleVersions: 1 }).result).toBe('miss');
    expect(select(two, { maxStaleVersions: 2 }).version?.id).toBe('v1');
  });

  it('maxStaleVersions 0 still offers the head', () => {
    expect(select([version('v1', 1), version('v2', 2)], { maxStaleVersions: 0 }).result).toBe('hit');
  });

  it('maxStaleMs: an older version committed exactly maxStaleMs ago is offered; one ms older is not', () => {
    const versions = [version('v1', 1, { committedAt: T0 - 100 }), version('v2', 2, { hosts: ['x'] })];
    expect(select(versions, { maxStaleMs: 100 }).version?.id).toBe('v1');
    expect(select(versions, { maxStaleMs: 99 }).result).toBe('miss');
  });

  it('maxStaleMs never rules out the head', () => {
    expect(select([version('v1', 1, { committedAt: T0 - DAY_MS })], { maxStaleMs: 1 }).result).toBe('hit');
  });

  it('maxForksPerVersion: a version with that many live forks of this volume is passed over', () => {
    const v = [version('v1', 1), version('v2', 2)];
    const policy = resolvePolicy({ maxForksPerVersion: 2 });
    let n = 0;
    const on = (baseId: string, overrides = {}) => fork(`f${++n}`, { baseId, ...overrides });
    const pick = (forks: ReturnType<typeof fork>[]) =>
      selectParent(volumeOf(v), forks, { host: 'h', now: T0 }, policy).version?.id;
    expect(pick([on('v2')])).toBe('v2');
    expect(pick([on('v2'), on('v2')])).toBe('v1');
    // Ended forks, forks of another volume or scope, and empty forks do not count.
    expect(pick([on('v2'), on('v2', { state: 'abandoned' })])).toBe('v2');
    expect(pick([on('v2'), on('v2', { name: 'other' })])).toBe('v2');
    expect(pick([on('v2'), on('v2', { scope: 'other' })])).toBe('v2');
    expect(
      selectParent(
        volumeOf(v),
        [fork('a'), fork('b')],
        { host: 'h', now: T0 },
        resolvePolicy({ maxForksPerVersion: 1 }),
      ).version?.id,
    ).toBe('v2');
  });
});

/** A slice of volume `name` (scope `s`) holding `versions`, with live forks on `protect`. */
const volume = (name: string, versions: VersionRecord[], protect: string[] = []): VolumeSlice => ({
  ...sliceOf(
    versions,
    protect.map((baseId, i) => fork(`f-${name}-${i}`, { name, baseId })),
  ),
  name,
  volume: { ...volumeOf(versions), name },
});

const plan = (slices: VolumeSlice[], policy: Partial<Policy>, now = T0) =>
  planRetention(slices, now, resolvePolicy(policy)).map((p) => `${p.name}/${p.versionId}:${p.reason}`);

describe('retention', () => {
  it('removes every version idle for the retention period or longer, and keeps younger ones', () => {
    const slices = [
      volume('a', [version('a1', 1, { lastUsedAt: T0 - 1000 }), version('a2', 2, { lastUsedAt: T0 - 999 })]),
    ];
    expect(plan(slices, { retentionMs: 1000 })).toEqual(['a/a1:expired']);
  });

  it('the default retention is 14 days of idleness', () => {
    const slices = [
      volume('a', [
        version('a1', 1, { lastUsedAt: T0 - 14 * DAY_MS }),
        version('a2', 2, { lastUsedAt: T0 - 14 * DAY_MS + 1 }),
      ]),
    ];
    expect(plan(slices, {})).toEqual(['a/a1:expired']);
  });

  it('never removes a version a live fork depends on, however idle', () => {
    const slices = [volume('a', [version('a1', 1, { lastUsedAt: 0 })], ['a1'])];
    expect(plan(slices, { retentionMs: 1000, maxTotalBytes: 0 })).toEqual([]);
  });

  it('an ended fork protects nothing', () => {
    const slice = volume('a', [version('a1', 1, { lastUsedAt: 0 })]);
    slice.forks.done = fork('done', { name: 'a', baseId: 'a1', state: 'committed' });
    expect(plan([slice], { retentionMs: 1000 })).toEqual(['a/a1:expired']);
  });

  it('never plans a version already being removed, nor counts its bytes', () => {
    const slices = [
      volume('a', [
        version('a1', 1, { state: 'removing', lastUsedAt: 0, usedBytes: 100 }),
        version('a2', 2, { usedBytes: 10 }),
      ]),
    ];
    expect(plan(slices, { retentionMs: 1000, maxTotalBytes: 10 })).toEqual([]);
  });

  it('under maxTotalBytes: nothing is evicted when the kept versions use exactly the budget', () => {
    const slices = [volume('a', [version('a1', 1, { usedBytes: 6 }), version('a2', 2, { usedBytes: 4 })])];
    expect(plan(slices, { maxTotalBytes: 10 })).toEqual([]);
  });

  it('under maxTotalBytes: one byte over evicts until the rest fit, and no further', () => {
    const slices = [
      volume('a', [
        version('a1', 1, { usedBytes: 1, lastUsedAt: T0 - 3 }),
        version('a2', 2, { usedBytes: 5, lastUsedAt: T0 - 2 }),
        version('a3', 3, { usedBytes: 5, lastUsedAt: T0 - 1 }),
      ]),
    ];
    expect(plan(slices, { maxTotalBytes: 10 })).toEqual(['a/a1:capacity']);
    expect(plan(slices, { maxTotalBytes: 9 })).toEqual(['a/a1:capacity', 'a/a2:capacity']);
    expect(plan(slices, { maxTotalBytes: 5 })).toEqual(['a/a1:capacity', 'a/a2:capacity']);
    expect(plan(slices, { maxTotalBytes: 4 })).toEqual(['a/a1:capacity', 'a/a2:capacity', 'a/a3:capacity']);
  });

  it('under maxTotalBytes: versions that are not a head go first, least recently used first, across volumes', () => {
    const slices = [
      volume('a', [version('a1', 1, { lastUsedAt: T0 - 10 }), version('a2', 2, { lastUsedAt: T0 - 50 })]),
      volume('b', [version('b1', 1, { lastUsedAt: T0 - 20 }), version('b2', 2, { lastUsedAt: T0 - 40 })]),
    ];
    expect(plan(slices, { maxTotalBytes: 0 })).toEqual([
      'b/b1:capacity',
      'a/a1:capacity',
      'a/a2:capacity',
      'b/b2:capacity',
    ]);
    expect(plan(slices, { maxTotalBytes: 20 })).toEqual(['b/b1:capacity', 'a/a1:capacity']);
  });

  it('under maxTotalBytes: among versions used at the same time, the older commit goes first', () => {
    const slices = [volume('a', [version('a2', 2), version('a1', 1), version('a3', 3)])];
    expect(plan(slices, { maxTotalBytes: 10 })).toEqual(['a/a1:capacity', 'a/a2:capacity']);
  });

  it('under maxTotalBytes: bytes of versions live forks depend on count, and those versions stay', () => {
    const slices = [
      volume('a', [version('a1', 1, { usedBytes: 10 }), version('a2', 2, { usedBytes: 5 })], ['a1']),
    ];
    expect(plan(slices, { maxTotalBytes: 10 })).toEqual(['a/a2:capacity']);
    expect(plan(slices, { maxTotalBytes: 15 })).toEqual([]);
  });

  it('expired versions are planned first and their bytes do not count against the budget', () => {
    const slices = [
      volume('a', [
        version('a1', 1, { usedBytes: 100, lastUsedAt: T0 - 1000 }),
        version('a2', 2, { usedBytes: 10 }),
      ]),
    ];
    expect(plan(slices, { retentionMs: 1000, maxTotalBytes: 10 })).toEqual(['a/a1:expired']);
  });

  it('a slice without a volume record plans nothing', () => {
    const planner = retentionPlanner(T0, resolvePolicy({ maxTotalBytes: 0 }));
    planner.add(sliceOf(null));
    expect(planner.plan()).toEqual([]);
  });

  it('reports each planned removal with its volume and version', () => {
    const [removal] = planRetention([volume('a', [version('a1', 1, { lastUsedAt: 0 })])], T0, DEFAULT_POLICY);
    expect(removal).toEqual({ scope: 's', name: 'a', versionId: 'a1', reason: 'expired' });
  });

  it('isRemovable: a version is removable exactly when no live fork depends on it', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)], [fork('f1', { baseId: 'v1' })]);
    expect(isRemovable(slice, 'v1')).toBe(false);
    expect(isRemovable(slice, 'v2')).toBe(true);
  });
});
