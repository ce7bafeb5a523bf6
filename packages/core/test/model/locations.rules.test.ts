import { describe, expect, it } from 'vitest';
import {
  abandonReceive,
  beginReceive,
  completeReceive,
  dropCopy,
  expiredReceives,
  leftCopies,
  takeOverReceive,
} from '../../src/model/locations.js';
import { completeRemoveVersion } from '../../src/model/transitions.js';
import { sliceOf, T0, thrown, version } from './fixtures.js';

/** One test per rule of `model/locations.ts`, named after it (the properties are in locations.properties). */

describe('beginReceive', () => {
  it('refuses a version that is gone or being removed with NOT_FOUND naming it', () => {
    for (const slice of [sliceOf([]), sliceOf([version('v1', 1, { state: 'removing' })])]) {
      const error = thrown(() => beginReceive(slice, 'v1', 'b', T0, T0 + 10));
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toBe(
        'Version "v1" of volume "vol" (scope "s") is gone or being removed: there is nothing to receive.',
      );
      expect(error.details).toEqual({ versionId: 'v1' });
    }
  });

  it('refuses a second receive on one host with CONFLICT while the first claim lasts, up to its end', () => {
    const begun = beginReceive(sliceOf([version('v1', 1)]), 'v1', 'b', T0, T0 + 10).slice;
    expect(begun.volume?.versions.v1?.receiving).toEqual({ b: T0 + 10 });
    const error = thrown(() => beginReceive(begun, 'v1', 'b', T0 + 9, T0 + 20));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(
      `Host "b" is receiving version "v1" already (its claim ends at ${new Date(T0 + 10).toISOString()}).`,
    );
    expect(error.details).toEqual({ versionId: 'v1', host: 'b', claimUntil: T0 + 10 });
    expect(beginReceive(begun, 'v1', 'b', T0 + 10, T0 + 20).slice.volume?.versions.v1?.receiving).toEqual({
      b: T0 + 20,
    });
    // Another host claims beside it.
    expect(beginReceive(begun, 'v1', 'c', T0, T0 + 5).slice.volume?.versions.v1?.receiving).toEqual({
      b: T0 + 10,
      c: T0 + 5,
    });
  });
});

describe('completeReceive and abandonReceive', () => {
  it('completeReceive keeps the other hosts claims, and of a version that is gone records nothing', () => {
    const two = sliceOf([version('v1', 1, { receiving: { b: T0 + 10, c: T0 + 10 } })]);
    const done = completeReceive(two, 'v1', 'b', T0 + 10);
    expect(done.kept).toBe(true);
    expect(done.claimed).toBe(true);
    expect(done.slice.volume?.versions.v1).toEqual(
      version('v1', 1, { hosts: ['h', 'b'], receiving: { c: T0 + 10 } }),
    );
    const gone = sliceOf([]);
    expect(completeReceive(gone, 'v1', 'b', T0 + 10)).toEqual({ slice: gone, kept: false, claimed: false });
  });

  it('abandonReceive changes nothing without a claim, and drops the field with the last claim', () => {
    const plain = sliceOf([version('v1', 1)]);
    expect(abandonReceive(plain, 'v1', 'b', T0)).toBe(plain);
    const claimed = sliceOf([version('v1', 1, { receiving: { b: T0 } })]);
    expect(abandonReceive(claimed, 'v1', 'b', T0).volume?.versions.v1).toEqual(version('v1', 1));
  });
});

describe("a claim that is no longer the receive's own", () => {
  it('takeOverReceive takes only a claim that ended, of a host without the copy, and gives it the new end', () => {
    const slice = sliceOf([
      version('v1', 1, { receiving: { b: T0 } }),
      version('v2', 2, { receiving: { b: T0 + 5 } }),
    ]);
    const taken = takeOverReceive(slice, 'v1', 'b', T0, T0 + 60);
    expect(taken?.volume?.versions.v1?.receiving).toEqual({ b: T0 + 60 });
    expect(takeOverReceive(slice, 'v2', 'b', T0, T0 + 60)).toBeUndefined();
    expect(takeOverReceive(slice, 'v1', 'c', T0, T0 + 60)).toBeUndefined();
    const held = sliceOf([version('v1', 1, { hosts: ['h', 'b'], receiving: { b: T0 } })]);
    expect(takeOverReceive(held, 'v1', 'b', T0, T0 + 60)).toBeUndefined();
  });

  it('the receive that made a taken-over claim can neither complete nor abandon it', () => {
    const taken = takeOverReceive(
      sliceOf([version('v1', 1, { receiving: { b: T0 } })]),
      'v1',
      'b',
      T0,
      T0 + 60,
    );
    if (!taken) throw new Error('not taken over');
    expect(completeReceive(taken, 'v1', 'b', T0)).toEqual({ slice: taken, kept: false, claimed: false });
    expect(abandonReceive(taken, 'v1', 'b', T0)).toBe(taken);
    expect(thrown(() => beginReceive(taken, 'v1', 'b', T0 + 59, T0 + 100)).code).toBe('CONFLICT');
    expect(abandonReceive(taken, 'v1', 'b', T0 + 60).volume?.versions.v1).toEqual(version('v1', 1));
  });
});

describe('completeReceive of a version removed meanwhile, or never claimed', () => {
  it('drops its own claim on a removing version without recording it, and leaves an unclaimed one alone', () => {
    const removing = sliceOf([version('v1', 1, { state: 'removing', receiving: { b: T0 } })]);
    const done = completeReceive(removing, 'v1', 'b', T0);
    expect(done).toMatchObject({ kept: false, claimed: true });
    expect(done.slice.volume?.versions.v1).toEqual(version('v1', 1, { state: 'removing' }));
    const unclaimed = sliceOf([version('v1', 1)]);
    expect(completeReceive(unclaimed, 'v1', 'b', T0)).toEqual({
      slice: unclaimed,
      kept: false,
      claimed: false,
    });
  });
});

describe('a volume or version that is not there', () => {
  it('is NOT_FOUND to begin, nothing kept to complete, and unchanged to abandon', () => {
    for (const slice of [sliceOf(null), sliceOf([])]) {
      expect(thrown(() => beginReceive(slice, 'v1', 'b', T0, T0 + 10)).code).toBe('NOT_FOUND');
      expect(completeReceive(slice, 'v1', 'b', T0)).toEqual({ slice, kept: false, claimed: false });
      expect(abandonReceive(slice, 'v1', 'b', T0)).toBe(slice);
    }
  });
});

describe('expiredReceives', () => {
  it('lists the claims of the host that ended, never one of a copy the host holds', () => {
    const slice = sliceOf([
      version('v1', 1, { receiving: { b: T0 } }),
      version('v2', 2, { receiving: { b: T0 + 1, c: T0 - 1 } }),
      version('v3', 3, { hosts: ['h', 'b'], receiving: { b: T0 - 1 } }),
    ]);
    expect(expiredReceives(slice, 'b', T0)).toEqual(['v1']);
    expect(expiredReceives(slice, 'b', T0 + 1)).toEqual(['v1', 'v2']);
    expect(expiredReceives(slice, 'c', T0)).toEqual(['v2']);
    expect(expiredReceives(sliceOf(null), 'b', T0)).toEqual([]);
  });
});

describe('copies left by a removal on another host', () => {
  const removing = (hosts: string[]) =>
    sliceOf([version('v1', 1), version('v2', 2, { state: 'removing', hosts })]);

  it('completeRemoveVersion by a host keeps the record for the hosts that still hold copies, until the given end', () => {
    const next = completeRemoveVersion(removing(['a', 'b', 'c']), 'v2', { host: 'a', until: T0 + 99 });
    expect(next.volume?.versions.v2).toMatchObject({
      state: 'removing',
      hosts: ['b', 'c'],
      pendingCopies: true,
      leaseUntil: T0 + 99,
    });
    expect(next.volume?.versionIds).toEqual(['v1', 'v2']);
    expect(leftCopies(next, 'b')).toEqual(['v2']);
    expect(leftCopies(next, 'a')).toEqual([]);
  });

  it('completeRemoveVersion drops the record when no other host holds a copy, or when it was pending copies already', () => {
    for (const hosts of [['a'], []]) {
      const gone = completeRemoveVersion(removing(hosts), 'v2', { host: 'a', until: T0 + 99 });
      expect(gone.volume?.versions.v2).toBeUndefined();
    }
    const pending = completeRemoveVersion(removing(['a', 'b']), 'v2', { host: 'a', until: T0 + 99 });
    // Its time ran out and a reconciler (any host) finished it: the record goes.
    const finished = completeRemoveVersion(pending, 'v2', { host: 'c', until: T0 + 200 });
    expect(finished.volume?.versions.v2).toBeUndefined();
    expect(finished.volume?.versionIds).toEqual(['v1']);
    // Without a host (as before fleets), the record goes.
    expect(completeRemoveVersion(removing(['a', 'b']), 'v2').volume?.versions.v2).toBeUndefined();
  });

  it('a lost copy only takes its host out: the version stays committed for the hosts that hold it', () => {
    const next = completeRemoveVersion(removing(['a', 'b']), 'v2', { host: 'a', until: T0 + 99, lost: true });
    expect(next.volume?.versions.v2).toMatchObject({ state: 'committed', hosts: ['b'], leaseUntil: null });
    expect(next.volume?.versions.v2?.pendingCopies).toBeUndefined();
    const alone = completeRemoveVersion(removing(['a']), 'v2', { host: 'a', until: T0 + 99, lost: true });
    expect(alone.volume?.versions.v2).toBeUndefined();
  });

  it('dropCopy takes the host out of hosts, drops the record with the last, and leaves other versions alone', () => {
    const pending = completeRemoveVersion(removing(['a', 'b', 'c']), 'v2', { host: 'a', until: T0 + 99 });
    const one = dropCopy(pending, 'v2', 'b');
    expect(one.volume?.versions.v2?.hosts).toEqual(['c']);
    const none = dropCopy(one, 'v2', 'c');
    expect(none.volume?.versions.v2).toBeUndefined();
    expect(none.volume?.versionIds).toEqual(['v1']);
    expect(dropCopy(none, 'v2', 'c')).toBe(none);
    // A removal under way (not pending copies) or a committed version: unchanged.
    const underWay = removing(['a', 'b']);
    expect(dropCopy(underWay, 'v2', 'b')).toBe(underWay);
    expect(dropCopy(underWay, 'v1', 'h')).toBe(underWay);
    expect(leftCopies(underWay, 'b')).toEqual([]);
  });
});
