import type { VolumeSlice } from '@cachevol/core';
import { counterVolume, testFork } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { bigintMs, isEmptyWrite, type LockedVolume, planWrite, sliceOf } from '../src/internal/rows.js';

const key = { scope: 'pipe', name: 'deps' };
const T0 = 1_700_000_000_000;
const stored = (over: Partial<LockedVolume> = {}): LockedVolume => ({
  dueAt: null,
  hasIntent: false,
  inserted: false,
  ...over,
});

describe('planWrite', () => {
  it('writes nothing for an unchanged slice', () => {
    const before: VolumeSlice = { ...key, volume: counterVolume(key), forks: {} };
    const write = planWrite(before, before, stored());
    expect(write).toEqual({ key, forks: [], volume: null, drop: false });
    expect(isEmptyWrite(write, stored())).toBe(true);
  });

  it('writes only the forks that changed, compared by reference', () => {
    const a = testFork(key, 'a');
    const b = testFork(key, 'b');
    const before: VolumeSlice = { ...key, volume: counterVolume(key), forks: { a, b } };
    const renewed = { ...b };
    const write = planWrite(before, { ...before, forks: { a, b: renewed } }, stored({ dueAt: a.expiresAt }));
    expect(write.forks.map((f) => f.id)).toEqual(['b']);
    expect(write.forks[0]?.record).toBe(renewed);
    expect(write.volume).toBeNull();
  });

  it('keeps forks left out when computing the schedule', () => {
    const soon = testFork(key, 'soon', { expiresAt: T0 + 10 });
    const later = testFork(key, 'later', { expiresAt: T0 + 1000, state: 'committing' });
    const before: VolumeSlice = { ...key, volume: counterVolume(key), forks: { soon, later } };
    // The function returns only a renewed `soon`: `later` stays, and is now the earliest lease.
    const renewed = { ...soon, expiresAt: T0 + 5000 };
    const write = planWrite(before, { ...before, forks: { soon: renewed } }, stored({ dueAt: T0 + 10 }));
    expect(write.volume).toMatchObject({ due_at: T0 + 1000, has_intent: true });
  });

  it('keeps a row without a record while live forks remain, and drops it once none does', () => {
    const live = testFork(key, 'live');
    const before: VolumeSlice = { ...key, volume: counterVolume(key), forks: { live } };
    expect(planWrite(before, { ...before, volume: null }, stored())).toMatchObject({
      drop: false,
      volume: { record: null, due_at: live.expiresAt },
    });
    const ended = { ...live, state: 'abandoned' as const, endedAt: T0 + 1 };
    const write = planWrite(before, { ...before, volume: null, forks: { live: ended } }, stored());
    expect(write).toMatchObject({ drop: true, volume: null });
    expect(write.forks).toMatchObject([{ id: 'live', live: false, ended_at: T0 + 1 }]);
  });

  it('writes nothing for a placeholder row this transaction made and left empty', () => {
    const empty: VolumeSlice = { ...key, volume: null, forks: {} };
    const write = planWrite(empty, empty, stored({ inserted: true }));
    expect(write.drop).toBe(true);
    expect(isEmptyWrite(write, stored({ inserted: true }))).toBe(true);
    expect(isEmptyWrite(write, stored())).toBe(false);
  });

  it('fills a placeholder row it made', () => {
    const empty: VolumeSlice = { ...key, volume: null, forks: {} };
    const write = planWrite(empty, { ...empty, volume: counterVolume(key) }, stored({ inserted: true }));
    expect(write.volume?.record).toEqual(counterVolume(key));
  });
});

describe('rows', () => {
  it('rounds times up, so nothing is ever due or pruned early', () => {
    expect(bigintMs(10.2)).toBe(11);
    expect(bigintMs(10)).toBe(10);
    expect(bigintMs(null)).toBeNull();
    expect(bigintMs(Number.POSITIVE_INFINITY)).toBeNull();
  });

  it('builds slices from fresh objects', () => {
    const text = JSON.stringify(testFork(key, 'f1'));
    const one = sliceOf(key, JSON.stringify(counterVolume(key)), [text]);
    const two = sliceOf(key, JSON.stringify(counterVolume(key)), [text]);
    expect(one).toEqual(two);
    expect(one.forks.f1).not.toBe(two.forks.f1);
  });
});
