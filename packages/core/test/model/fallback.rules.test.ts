import { describe, expect, it } from 'vitest';
import { borrowFallback, isBorrowed, releaseBorrow, renewBorrow } from '../../src/model/fallback.js';
import { DEFAULT_POLICY } from '../../src/model/policy.js';
import { planVolumeRetention } from '../../src/model/retention.js';
import type { ForkSource } from '../../src/model/state.js';
import { beginAttach, beginRemoveVersion } from '../../src/model/transitions.js';
import { NAME, SCOPE, sliceOf, T0, thrown, version } from './fixtures.js';

/** One test per rule of fallback volumes (`model/fallback.ts` and its uses in the transitions). */

const NOW = T0 + 60_000;
const borrowInput = { forkId: 'f-other', host: 'h', now: NOW, until: NOW + 5000, policy: DEFAULT_POLICY };
const source: ForkSource = { scope: 'main', name: 'deps', versionId: 'v9', result: 'hit', usedBytes: 7 };
const attachInput = {
  forkId: 'f-new',
  host: 'h',
  job: 'j',
  requestedBytes: 100,
  commitMode: 'on-success' as const,
  leaseMs: 5000,
  now: NOW,
  policy: DEFAULT_POLICY,
};

describe('borrowFallback', () => {
  it('borrows the head until the given time, marks it used, and changes no count or head', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)]);
    const { slice: next, source: got } = borrowFallback(slice, borrowInput);
    expect(got).toEqual({ scope: SCOPE, name: NAME, versionId: 'v2', result: 'hit', usedBytes: 10 });
    expect(next.volume?.versions.v2).toEqual({
      ...version('v2', 2),
      lastUsedAt: NOW,
      borrows: { 'f-other': NOW + 5000 },
    });
    expect(next.volume?.versions.v1).toBe(slice.volume?.versions.v1);
    expect(next.volume?.counts).toEqual(slice.volume?.counts);
    expect(next.volume?.versionIds).toEqual(['v1', 'v2']);
  });

  it('borrows a stale version when the head is not usable here', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2, { hosts: ['elsewhere'] })]);
    expect(borrowFallback(slice, borrowInput).source).toMatchObject({ versionId: 'v1', result: 'stale' });
  });

  it('returns the slice unchanged and no source when the fallback has nothing usable', () => {
    for (const slice of [sliceOf(null), sliceOf([version('v1', 1, { hosts: ['elsewhere'] })])]) {
      const out = borrowFallback(slice, borrowInput);
      expect(out).toEqual({ slice, source: null });
    }
  });

  it('drops borrows that ended when it adds one', () => {
    const slice = sliceOf([version('v1', 1, { borrows: { old: NOW, live: NOW + 1 } })]);
    expect(borrowFallback(slice, borrowInput).slice.volume?.versions.v1?.borrows).toEqual({
      live: NOW + 1,
      'f-other': NOW + 5000,
    });
  });
});

describe('isBorrowed, renewBorrow, releaseBorrow', () => {
  it('a version is borrowed while one of its borrows has not ended', () => {
    expect(isBorrowed(version('v1', 1), NOW)).toBe(false);
    expect(isBorrowed(version('v1', 1, { borrows: { a: NOW } }), NOW)).toBe(false);
    expect(isBorrowed(version('v1', 1, { borrows: { a: NOW, b: NOW + 1 } }), NOW)).toBe(true);
  });

  it('renewBorrow extends a borrow, never shortens it, and never brings back one that is gone', () => {
    const slice = sliceOf([version('v1', 1, { borrows: { a: NOW } })]);
    expect(renewBorrow(slice, 'v1', 'a', NOW + 10).volume?.versions.v1?.borrows).toEqual({ a: NOW + 10 });
    expect(renewBorrow(slice, 'v1', 'a', NOW - 10)).toBe(slice);
    expect(renewBorrow(slice, 'v1', 'gone', NOW + 10)).toBe(slice);
    expect(renewBorrow(slice, 'v-none', 'a', NOW + 10)).toBe(slice);
    expect(renewBorrow(slice, 'v1', 'a', NOW), 'the same end').toBe(slice);
    const unborrowed = sliceOf([version('v1', 1)]);
    expect(renewBorrow(unborrowed, 'v1', 'a', NOW + 10)).toBe(unborrowed);
    const removed = sliceOf(null);
    expect(renewBorrow(removed, 'v1', 'a', NOW + 10), 'the volume is gone').toBe(removed);
  });

  it('releaseBorrow ends one borrow, drops ended ones, and drops the field when none is left', () => {
    const slice = sliceOf([version('v1', 1, { borrows: { a: NOW + 9, b: NOW + 9, ended: NOW - 1 } })]);
    const once = releaseBorrow(slice, 'v1', 'a', NOW);
    expect(once.volume?.versions.v1?.borrows).toEqual({ b: NOW + 9 });
    const twice = releaseBorrow(once, 'v1', 'b', NOW);
    expect(twice.volume?.versions.v1).toEqual(version('v1', 1));
    expect(releaseBorrow(twice, 'v1', 'b', NOW)).toBe(twice);
    expect(releaseBorrow(twice, 'v-none', 'b', NOW)).toBe(twice);
    const removed = sliceOf(null);
    expect(releaseBorrow(removed, 'v1', 'b', NOW), 'the volume is gone').toBe(removed);
  });
});

describe('borrowed versions and retention or removal', () => {
  const borrowed = sliceOf([
    version('v1', 1, { lastUsedAt: 0, borrows: { other: NOW + 1 } }),
    version('v2', 2),
  ]);

  it('retention keeps a borrowed version, even one idle past retention, and not after the borrow', () => {
    expect(planVolumeRetention(borrowed, NOW, DEFAULT_POLICY)).toEqual([]);
    expect(planVolumeRetention(borrowed, NOW + 1, DEFAULT_POLICY)).toEqual([
      { scope: SCOPE, name: NAME, versionId: 'v1', reason: 'expired' },
    ]);
  });

  it('beginRemoveVersion refuses a borrowed version with CONFLICT, unless it is lost or the borrow ended', () => {
    const error = thrown(() => beginRemoveVersion(borrowed, 'v1', NOW + 10, false, NOW));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain('falls back to it');
    expect(error.details).toMatchObject({ versionId: 'v1', borrowedBy: ['other'] });
    expect(thrown(() => beginRemoveVersion(borrowed, 'v1', NOW + 10)).code).toBe('CONFLICT');
    expect(beginRemoveVersion(borrowed, 'v1', NOW + 10, true, NOW).volume?.versions.v1?.state).toBe(
      'removing',
    );
    expect(beginRemoveVersion(borrowed, 'v1', NOW + 10, false, NOW + 1).volume?.versions.v1?.state).toBe(
      'removing',
    );
  });
});

describe('beginAttach with a fallback', () => {
  it('on a miss, records the fallback as the source, with its used bytes in the capacity', () => {
    const { fork: made, selection } = beginAttach(sliceOf(null), { ...attachInput, fallback: source });
    expect(selection.result).toBe('miss');
    expect(made).toMatchObject({ baseId: null, result: 'miss', source, capacityBytes: 107 });
  });

  it('ignores the fallback when the volume has a usable version (a commit came in meanwhile)', () => {
    const { fork: made } = beginAttach(sliceOf([version('v1', 1)]), { ...attachInput, fallback: source });
    expect(made.baseId).toBe('v1');
    expect(made.source).toBeUndefined();
    expect(made.capacityBytes).toBe(110);
  });

  it('records no source without a fallback', () => {
    expect('source' in beginAttach(sliceOf(null), attachInput).fork).toBe(false);
  });
});
