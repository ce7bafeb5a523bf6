import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, resolvePolicy } from '../../src/model/policy.js';
import { headOf } from '../../src/model/selection.js';
import type { ForkState, VolumeSlice } from '../../src/model/state.js';
import {
  type AttachInput,
  beginAbandon,
  beginAttach,
  beginCommit,
  beginRemoveVersion,
  claimDue,
  completeAbandon,
  completeAttach,
  completeCommit,
  completeRemoveVersion,
  dependents,
  dropEmptyVolume,
  getFork,
  recordMeasuredUsage,
  renewLease,
} from '../../src/model/transitions.js';
import { fork, NAME, SCOPE, sliceOf, T0, thrown, version } from './fixtures.js';

/**
 * One test per rule of the lifecycle transitions (`model/transitions.ts`), named after the rule,
 * so that a mutant that breaks a rule fails a test that says which.
 */

const attachInput = (overrides: Partial<AttachInput> = {}): AttachInput => ({
  forkId: 'f-new',
  host: 'h',
  job: 'job-1',
  requestedBytes: 100,
  commitMode: 'on-change',
  leaseMs: 5000,
  now: T0 + 60_000,
  policy: DEFAULT_POLICY,
  ...overrides,
});

describe('getFork', () => {
  it('finds a fork of the slice by id', () => {
    const f = fork('f1');
    expect(getFork(sliceOf([], [f]), 'f1')).toBe(f);
  });

  it('throws NOT_FOUND naming the id for an unknown fork', () => {
    const error = thrown(() => getFork(sliceOf([]), 'f-gone'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('No fork with id "f-gone": it was never attached here, or gc() pruned it.');
    expect(error.details).toEqual({ forkId: 'f-gone' });
  });
});

describe('beginAttach', () => {
  it('creates the volume record on the first attach: seq 0, no versions, one miss (also in this hour), last used now', () => {
    const { slice, fork: f, selection } = beginAttach(sliceOf(null), attachInput());
    expect(selection).toEqual({ result: 'miss', version: null, reason: 'no-versions' });
    expect(slice.volume).toEqual({
      scope: SCOPE,
      name: NAME,
      seq: 0,
      versions: {},
      versionIds: [],
      counts: { hit: 0, stale: 0, miss: 1 },
      hourly: [{ hour: Math.floor((T0 + 60_000) / 3_600_000), hit: 0, stale: 0, miss: 1 }],
      lastUsedAt: T0 + 60_000,
    });
    expect(slice.forks).toEqual({ 'f-new': f });
  });

  it('records the fork as a creating intent with every field of the request, and the lease from now', () => {
    const base = version('v1', 1, { usedBytes: 7 });
    const { fork: f } = beginAttach(sliceOf([base]), attachInput());
    expect(f).toEqual({
      id: 'f-new',
      scope: SCOPE,
      name: NAME,
      baseId: 'v1',
      result: 'hit',
      requestedBytes: 100,
      capacityBytes: 107,
      host: 'h',
      job: 'job-1',
      commitMode: 'on-change',
      createdAt: T0 + 60_000,
      expiresAt: T0 + 65_000,
      mountPath: null,
      state: 'creating',
      versionId: null,
      commitAfterSeq: null,
      endedAt: null,
    });
  });

  it("refreshes the parent's lastUsedAt (a version in daily use never expires) and no other version's", () => {
    const old = version('v1', 1, { lastUsedAt: T0 - 5 });
    const head = version('v2', 2, { lastUsedAt: T0 - 5 });
    const { slice } = beginAttach(sliceOf([old, head]), attachInput());
    expect(slice.volume?.versions.v2?.lastUsedAt).toBe(T0 + 60_000);
    expect(slice.volume?.versions.v1).toBe(old);
    expect(slice.volume?.lastUsedAt).toBe(T0 + 60_000);
  });

  it('keeps a version forked every day alive past 14 days of retention', () => {
    let slice = sliceOf([version('v1', 1)]);
    for (let day = 1; day <= 20; day++) {
      const now = T0 + day * DEFAULT_POLICY.retentionMs * (1 / 14);
      const begun = beginAttach(slice, attachInput({ forkId: `f${day}`, now }));
      expect(begun.selection.result).toBe('hit');
      slice = begun.slice;
    }
  });

  it('counts hit, stale and miss separately, keeping the other counts', () => {
    const policy = resolvePolicy({ maxForksPerVersion: 1 });
    let slice = sliceOf([version('v1', 1), version('v2', 2)], [], { counts: { hit: 4, stale: 5, miss: 6 } });
    slice = beginAttach(slice, attachInput({ forkId: 'a', policy })).slice;
    expect(slice.volume?.counts).toEqual({ hit: 5, stale: 5, miss: 6 });
    slice = beginAttach(slice, attachInput({ forkId: 'b', policy })).slice;
    expect(slice.volume?.counts).toEqual({ hit: 5, stale: 6, miss: 6 });
    slice = beginAttach(slice, attachInput({ forkId: 'c', policy })).slice;
    expect(slice.volume?.counts).toEqual({ hit: 5, stale: 6, miss: 7 });
  });

  it('passes the live forks, host and time to selection (a version at its usage bound is passed over)', () => {
    const policy = resolvePolicy({ maxForksPerVersion: 1 });
    const busy = fork('busy', { baseId: 'v2' });
    const begun = beginAttach(sliceOf([version('v1', 1), version('v2', 2)], [busy]), attachInput({ policy }));
    expect(begun.fork.baseId).toBe('v1');
    expect(begun.fork.result).toBe('stale');
    const elsewhere = beginAttach(sliceOf([version('v1', 1)]), attachInput({ host: 'other' }));
    expect(elsewhere.fork.result).toBe('miss');
    const late = beginAttach(
      sliceOf([version('v1', 1)]),
      attachInput({ now: T0 + DEFAULT_POLICY.retentionMs }),
    );
    expect(late.fork.result).toBe('miss');
  });

  it('gives a miss the requested capacity only', () => {
    const { fork: f } = beginAttach(sliceOf([]), attachInput({ requestedBytes: 300 }));
    expect(f.capacityBytes).toBe(300);
    expect(f.baseId).toBeNull();
  });

  it('refuses a duplicate fork id with ALREADY_EXISTS, whatever the state of the fork holding it', () => {
    for (const state of ['attached', 'abandoned'] as ForkState[]) {
      const error = thrown(() => beginAttach(sliceOf([], [fork('f-new', { state })]), attachInput()));
      expect(error.code).toBe('ALREADY_EXISTS');
      expect(error.message).toBe('Fork id "f-new" is already in use.');
      expect(error.details).toEqual({ forkId: 'f-new' });
    }
  });

  it('never changes the slice it is given', () => {
    const slice = sliceOf([version('v1', 1)]);
    const copy = structuredClone(slice);
    beginAttach(slice, attachInput());
    expect(slice).toEqual(copy);
  });
});

describe('fork state rules', () => {
  const ALL: ForkState[] = ['creating', 'attached', 'committing', 'committed', 'abandoning', 'abandoned'];
  const WHY: Record<ForkState, string> = {
    creating: 'it is still being created',
    attached: 'it is attached',
    committing: 'it is already being committed',
    committed: 'it was already committed',
    abandoning: 'it is being abandoned',
    abandoned: 'it was abandoned',
  };

  const refuses = (state: ForkState, action: string, run: (slice: VolumeSlice) => unknown) => {
    const error = thrown(() => run(sliceOf([], [fork('f1', { state })])));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(`Cannot ${action} fork "f1": ${WHY[state]}. Attach a new fork instead.`);
    expect(error.details).toEqual({ forkId: 'f1', state });
  };

  it('completeAttach: only a creating fork becomes attached, with its mount path', () => {
    const next = completeAttach(
      sliceOf([], [fork('f1', { state: 'creating', mountPath: null })]),
      'f1',
      '/mnt',
    );
    expect(next.forks.f1).toMatchObject({ state: 'attached', mountPath: '/mnt' });
    for (const state of ALL.filter((s) => s !== 'creating'))
      refuses(state, 'finish attaching', (s) => completeAttach(s, 'f1', '/x'));
  });

  it('renewLease: only an attached fork, or one being made (a long copy), is renewed', () => {
    for (const state of ALL.filter((s) => s !== 'attached' && s !== 'creating'))
      refuses(state, 'renew the lease of', (s) => renewLease(s, 'f1', T0 + 10_000));
    const creating = sliceOf([], [fork('f1', { state: 'creating', expiresAt: T0 + 1000 })]);
    expect(renewLease(creating, 'f1', T0 + 5000).forks.f1).toMatchObject({
      state: 'creating',
      expiresAt: T0 + 5000,
    });
  });

  it('renewLease: a later end extends the lease; the same or an earlier end changes nothing', () => {
    const slice = sliceOf([], [fork('f1', { expiresAt: T0 + 1000 })]);
    expect(renewLease(slice, 'f1', T0 + 1001).forks.f1?.expiresAt).toBe(T0 + 1001);
    expect(renewLease(slice, 'f1', T0 + 1000)).toBe(slice);
    expect(renewLease(slice, 'f1', T0 + 999)).toBe(slice);
  });

  it('beginCommit: only an attached fork starts committing, recording the version id and the seq it began after', () => {
    const slice = sliceOf([version('v1', 1), version('v3', 3)], [fork('f1', { expiresAt: T0 + 1000 })]);
    expect(beginCommit(slice, 'f1', 'v9', T0 + 500).forks.f1).toMatchObject({
      state: 'committing',
      versionId: 'v9',
      commitAfterSeq: 3,
      expiresAt: T0 + 1000,
    });
    expect(beginCommit(slice, 'f1', 'v9', T0 + 2000).forks.f1?.expiresAt).toBe(T0 + 2000);
    expect(beginCommit(sliceOf(null, [fork('f1')]), 'f1', 'v9', T0).forks.f1?.commitAfterSeq).toBe(0);
    for (const state of ALL.filter((s) => s !== 'attached'))
      refuses(state, 'commit', (s) => beginCommit(s, 'f1', 'v9', T0));
  });

  it('completeCommit: only a committing fork can finish committing', () => {
    for (const state of ALL.filter((s) => s !== 'committing'))
      refuses(state, 'finish committing', (s) => completeCommit(s, 'f1', 1, T0));
  });

  it('completeCommit: an estimated figure is marked as such, a measured one is not', () => {
    const slice = sliceOf([], [fork('f1', { state: 'committing', versionId: 'v9' })]);
    expect(completeCommit(slice, 'f1', 7, T0, { estimated: true }).version.usedBytesEstimated).toBe(true);
    expect(completeCommit(slice, 'f1', 7, T0).version).not.toHaveProperty('usedBytesEstimated');
  });

  it('recordMeasuredUsage: replaces only an estimated figure of a committed version, and drops the mark', () => {
    const estimated = sliceOf([version('v1', 1, { usedBytes: 900, usedBytesEstimated: true })]);
    const measured = recordMeasuredUsage(estimated, 'v1', 12).volume?.versions.v1;
    expect(measured).toEqual(version('v1', 1, { usedBytes: 12 }));
    for (const slice of [
      sliceOf([version('v1', 1, { usedBytes: 900 })]),
      sliceOf([version('v1', 1, { usedBytes: 900, usedBytesEstimated: true, state: 'removing' })]),
      sliceOf([]),
      sliceOf(null),
    ])
      expect(recordMeasuredUsage(slice, 'v1', 12)).toBe(slice);
  });

  it('beginAbandon: creating, attached and committing forks start abandoning, dropping the commit they began', () => {
    for (const state of ['creating', 'attached', 'committing'] as ForkState[]) {
      const slice = sliceOf(
        [],
        [fork('f1', { state, versionId: 'v9', commitAfterSeq: 2, expiresAt: T0 + 1000 })],
      );
      expect(beginAbandon(slice, 'f1', T0 + 3000).forks.f1).toMatchObject({
        state: 'abandoning',
        versionId: null,
        commitAfterSeq: null,
        expiresAt: T0 + 3000,
      });
      // It never shortens the lease; without a lease end it keeps the fork's.
      expect(beginAbandon(slice, 'f1', T0).forks.f1?.expiresAt).toBe(T0 + 1000);
      expect(beginAbandon(slice, 'f1').forks.f1?.expiresAt).toBe(T0 + 1000);
    }
  });

  it('beginAbandon: abandoning an abandoned or abandoning fork changes nothing; a committed one is a CONFLICT', () => {
    for (const state of ['abandoned', 'abandoning'] as ForkState[]) {
      const slice = sliceOf([], [fork('f1', { state })]);
      expect(beginAbandon(slice, 'f1', T0 + 5000)).toBe(slice);
    }
    refuses('committed', 'abandon', (s) => beginAbandon(s, 'f1'));
  });

  it('completeAbandon: an abandoning fork becomes abandoned at now; an abandoned one is left as it is', () => {
    const next = completeAbandon(sliceOf([], [fork('f1', { state: 'abandoning' })]), 'f1', T0 + 7);
    expect(next.forks.f1).toMatchObject({ state: 'abandoned', endedAt: T0 + 7 });
    const done = sliceOf([], [fork('f1', { state: 'abandoned', endedAt: T0 })]);
    expect(completeAbandon(done, 'f1', T0 + 9)).toBe(done);
    for (const state of ['creating', 'attached', 'committing', 'committed'] as ForkState[])
      refuses(state, 'finish abandoning', (s) => completeAbandon(s, 'f1', T0));
  });

  it('abandon changes no version and no head', () => {
    const slice = sliceOf(
      [version('v1', 1)],
      [fork('f1', { baseId: 'v1', state: 'committing', versionId: 'v2' })],
    );
    const next = completeAbandon(beginAbandon(slice, 'f1'), 'f1', T0);
    expect(next.volume).toBe(slice.volume);
  });
});

describe('completeCommit', () => {
  const committing = (overrides = {}) =>
    fork('f1', {
      state: 'committing',
      versionId: 'v-new',
      commitAfterSeq: 2,
      baseId: 'v2',
      host: 'h9',
      ...overrides,
    });

  it('makes the fork a committed version: every field, seq after the last, head, fork ended now', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)], [committing()]);
    const { slice: next, version: v } = completeCommit(slice, 'f1', 42, T0 + 9);
    expect(v).toEqual({
      id: 'v-new',
      seq: 3,
      baseId: 'v2',
      usedBytes: 42,
      committedAt: T0 + 9,
      lastUsedAt: T0 + 9,
      hosts: ['h9'],
      state: 'committed',
      orderedAfterSeq: null,
      leaseUntil: null,
    });
    expect(next.volume?.versions['v-new']).toEqual(v);
    expect(next.volume?.versionIds).toEqual(['v1', 'v2', 'v-new']);
    expect(next.volume?.seq).toBe(3);
    expect(next.volume?.lastUsedAt).toBe(T0 + 9);
    expect(headOf(next.volume ?? undefined)?.id).toBe('v-new');
    expect(next.forks.f1).toMatchObject({ state: 'committed', endedAt: T0 + 9, versionId: 'v-new' });
  });

  it('creates the volume record when the slice has none', () => {
    const { slice } = completeCommit(sliceOf(null, [committing({ commitAfterSeq: 0 })]), 'f1', 1, T0);
    expect(slice.volume).toMatchObject({
      seq: 1,
      versionIds: ['v-new'],
      counts: { hit: 0, stale: 0, miss: 0 },
    });
  });

  it('"last write" wins: a commit its job finishes becomes head even when newer commits finished since it began', () => {
    const slice = sliceOf(
      [version('v1', 1), version('v2', 2), version('v3', 3)],
      [committing({ commitAfterSeq: 1 })],
    );
    const { slice: next, version: v } = completeCommit(slice, 'f1', 1, T0);
    expect(v.orderedAfterSeq).toBeNull();
    expect(next.volume?.versionIds).toEqual(['v1', 'v2', 'v3', 'v-new']);
    expect(headOf(next.volume ?? undefined)?.id).toBe('v-new');
  });

  it('a repaired commit with nothing finished since it began becomes head', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)], [committing({ commitAfterSeq: 2 })]);
    const { slice: next, version: v } = completeCommit(slice, 'f1', 1, T0, { repaired: true });
    expect(v.orderedAfterSeq).toBeNull();
    expect(headOf(next.volume ?? undefined)?.id).toBe('v-new');
  });

  it('a repaired commit is ordered right after the version it began after, below every newer commit', () => {
    const slice = sliceOf(
      [version('v1', 1), version('v2', 2), version('v3', 3)],
      [committing({ commitAfterSeq: 1 })],
    );
    const { slice: next, version: v } = completeCommit(slice, 'f1', 1, T0, { repaired: true });
    expect(v).toMatchObject({ seq: 4, orderedAfterSeq: 1 });
    expect(next.volume?.versionIds).toEqual(['v1', 'v-new', 'v2', 'v3']);
    expect(next.volume?.seq).toBe(4);
    expect(headOf(next.volume ?? undefined)?.id).toBe('v3');
  });

  it('a repaired commit begun on an empty volume goes first, below every commit that finished', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)], [committing({ commitAfterSeq: 0 })]);
    const { slice: next } = completeCommit(slice, 'f1', 1, T0, { repaired: true });
    expect(next.volume?.versionIds).toEqual(['v-new', 'v1', 'v2']);
  });

  it('a repaired commit just below the head goes second to last', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)], [committing({ commitAfterSeq: 1 })]);
    const { slice: next } = completeCommit(slice, 'f1', 1, T0, { repaired: true });
    expect(next.volume?.versionIds).toEqual(['v1', 'v-new', 'v2']);
  });

  it('a repaired commit of a fork that recorded no seq (first release) is taken as begun now: head', () => {
    const slice = sliceOf([version('v1', 1)], [committing({ commitAfterSeq: null })]);
    const { slice: next, version: v } = completeCommit(slice, 'f1', 1, T0, { repaired: true });
    expect(v.orderedAfterSeq).toBeNull();
    expect(next.volume?.versionIds).toEqual(['v1', 'v-new']);
  });
});

describe('dependents and version removal', () => {
  const live: ForkState[] = ['creating', 'attached', 'committing', 'abandoning'];

  it('dependents are the live forks of the version, in any live state, and no ended or other fork', () => {
    const forks = [
      ...live.map((state) => fork(`live-${state}`, { baseId: 'v1', state })),
      fork('done', { baseId: 'v1', state: 'committed' }),
      fork('gone', { baseId: 'v1', state: 'abandoned' }),
      fork('other', { baseId: 'v2' }),
      fork('empty', { baseId: null }),
    ];
    const slice = sliceOf([version('v1', 1), version('v2', 2)], forks);
    expect(
      dependents(slice, 'v1')
        .map((f) => f.id)
        .sort(),
    ).toEqual(live.map((s) => `live-${s}`).sort());
  });

  it('beginRemoveVersion refuses with CONFLICT while a live fork depends on the version, naming the forks', () => {
    for (const state of live) {
      const slice = sliceOf(
        [version('v1', 1)],
        [fork('f1', { baseId: 'v1', state }), fork('f2', { baseId: 'v1' })],
      );
      const error = thrown(() => beginRemoveVersion(slice, 'v1', T0));
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toBe('Version "v1" is in use by 2 live fork(s); remove it after they finish.');
      expect(error.details).toEqual({ scope: SCOPE, name: NAME, versionId: 'v1', forks: ['f1', 'f2'] });
    }
  });

  it('beginRemoveVersion of a lost version (its data is gone) goes ahead while live forks depend on it', () => {
    const slice = sliceOf([version('v1', 1)], [fork('f1', { baseId: 'v1' })]);
    const next = beginRemoveVersion(slice, 'v1', T0 + 5, true);
    expect(next.volume?.versions.v1).toEqual({ ...version('v1', 1), state: 'removing', leaseUntil: T0 + 5 });
    expect(next.forks.f1).toEqual(slice.forks.f1);
    expect(thrown(() => beginRemoveVersion(slice, 'v1', T0 + 5, false)).code).toBe('CONFLICT');
  });

  it('beginRemoveVersion marks the version removing with its lease once its forks ended', () => {
    const slice = sliceOf([version('v1', 1)], [fork('f1', { baseId: 'v1', state: 'committed' })]);
    const next = beginRemoveVersion(slice, 'v1', T0 + 77);
    expect(next.volume?.versions.v1).toEqual({ ...version('v1', 1), state: 'removing', leaseUntil: T0 + 77 });
  });

  it('a removing version is never selected again, and the head falls back to the version before it', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2)]);
    const next = beginRemoveVersion(slice, 'v2', T0 + 1);
    expect(headOf(next.volume ?? undefined)?.id).toBe('v1');
    const begun = beginAttach(next, attachInput());
    expect(begun.fork.baseId).toBe('v1');
    const none = beginAttach(beginRemoveVersion(sliceOf([version('v1', 1)]), 'v1', T0), attachInput());
    expect(none.fork.result).toBe('miss');
  });

  it('beginRemoveVersion of a version already removing changes nothing (even with live forks on it)', () => {
    const slice = sliceOf(
      [version('v1', 1, { state: 'removing', leaseUntil: T0 })],
      [fork('f1', { baseId: 'v1' })],
    );
    expect(beginRemoveVersion(slice, 'v1', T0 + 5)).toBe(slice);
  });

  it('beginRemoveVersion of an unknown version, or in a volume without a record, is NOT_FOUND', () => {
    for (const slice of [sliceOf([version('v1', 1)]), sliceOf(null)]) {
      const error = thrown(() => beginRemoveVersion(slice, 'v9', T0));
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toBe('No version "v9" in volume "vol" (scope "s").');
      expect(error.details).toEqual({ scope: SCOPE, name: NAME, versionId: 'v9' });
    }
  });

  it('completeRemoveVersion drops the record and its id from versionIds, so later attaches see the rest', () => {
    const slice = sliceOf([version('v1', 1), version('v2', 2, { state: 'removing' }), version('v3', 3)]);
    const next = completeRemoveVersion(slice, 'v2');
    expect(Object.keys(next.volume?.versions ?? {})).toEqual(['v1', 'v3']);
    expect(next.volume?.versionIds).toEqual(['v1', 'v3']);
    const head = completeRemoveVersion(next, 'v3');
    expect(head.volume?.versionIds).toEqual(['v1']);
    expect(beginAttach(head, attachInput()).fork).toMatchObject({ baseId: 'v1', result: 'hit' });
  });

  it('completeRemoveVersion is idempotent: an unknown version or a volume without a record changes nothing', () => {
    const slice = sliceOf([version('v1', 1)]);
    expect(completeRemoveVersion(slice, 'v9')).toBe(slice);
    const empty = sliceOf(null);
    expect(completeRemoveVersion(empty, 'v1')).toBe(empty);
  });
});

describe('dropEmptyVolume', () => {
  it('drops the record of a volume with no versions and no live forks (ended forks do not count)', () => {
    const slice = sliceOf([], [fork('f1', { state: 'abandoned' }), fork('f2', { state: 'committed' })]);
    expect(dropEmptyVolume(slice).volume).toBeNull();
    expect(dropEmptyVolume(slice).forks).toBe(slice.forks);
  });

  it('keeps a volume that still has a version (even one being removed)', () => {
    for (const v of [version('v1', 1), version('v1', 1, { state: 'removing' })]) {
      const slice = sliceOf([v]);
      expect(dropEmptyVolume(slice)).toBe(slice);
    }
  });

  it('keeps a volume with a live fork, in any live state', () => {
    for (const state of ['creating', 'attached', 'committing', 'abandoning'] as ForkState[]) {
      const slice = sliceOf([], [fork('f1', { state }), fork('f2', { state: 'abandoned' })]);
      expect(dropEmptyVolume(slice)).toBe(slice);
    }
  });

  it('changes nothing when there is no record', () => {
    const slice = sliceOf(null);
    expect(dropEmptyVolume(slice)).toBe(slice);
  });
});

describe('claimDue', () => {
  const claim = (slice: VolumeSlice, now: number, force?: boolean) =>
    claimDue(slice, { now, until: now + 500, ...(force === undefined ? {} : { force }) });

  it('claims an attached fork whose lease ended at or before now, beginning its abandon', () => {
    const f = fork('f1', { expiresAt: T0, versionId: 'stale', commitAfterSeq: 4 });
    const { slice, claims } = claim(sliceOf([], [f]), T0);
    const claimed = { ...f, state: 'abandoning', versionId: null, commitAfterSeq: null, expiresAt: T0 + 500 };
    expect(claims).toEqual([{ kind: 'lease-expired', fork: claimed }]);
    expect(slice.forks.f1).toEqual(claimed);
  });

  it('leaves an attached fork alone until its lease ends (now < expiresAt), even with force', () => {
    const slice = sliceOf([], [fork('f1', { expiresAt: T0 + 1 })]);
    for (const force of [false, true]) {
      const out = claim(slice, T0, force);
      expect(out.claims).toEqual([]);
      expect(out.slice).toBe(slice);
    }
  });

  it('claims an intent whose lease ended as interrupted, keeping its state (a committing fork is repaired, not abandoned)', () => {
    for (const state of ['creating', 'committing', 'abandoning'] as ForkState[]) {
      const f = fork('f1', {
        state,
        expiresAt: T0,
        versionId: state === 'committing' ? 'v9' : null,
        commitAfterSeq: 1,
      });
      const { slice, claims } = claim(sliceOf([], [f]), T0);
      const claimed = { ...f, expiresAt: T0 + 500 };
      expect(claims).toEqual([{ kind: 'interrupted', fork: claimed }]);
      expect(slice.forks.f1).toEqual(claimed);
    }
  });

  it('leaves an intent alone while its lease runs, unless forced', () => {
    for (const state of ['creating', 'committing', 'abandoning'] as ForkState[]) {
      const slice = sliceOf([], [fork('f1', { state, expiresAt: T0 + 1 })]);
      expect(claim(slice, T0).claims).toEqual([]);
      expect(claim(slice, T0, false).slice).toBe(slice);
      expect(claim(slice, T0, true).claims).toEqual([
        { kind: 'interrupted', fork: { ...slice.forks.f1, expiresAt: T0 + 500 } },
      ]);
    }
  });

  it('never claims an ended fork, however old its lease', () => {
    const slice = sliceOf(
      [],
      [fork('f1', { state: 'committed', expiresAt: 0 }), fork('f2', { state: 'abandoned', expiresAt: 0 })],
    );
    const out = claim(slice, T0, true);
    expect(out.claims).toEqual([]);
    expect(out.slice).toBe(slice);
  });

  it('claims a removing version whose lease ended at or before now (or has none), setting its lease', () => {
    for (const leaseUntil of [T0, T0 - 1, null]) {
      const slice = sliceOf([version('v1', 1, { state: 'removing', leaseUntil }), version('v2', 2)]);
      const out = claim(slice, T0);
      expect(out.claims).toEqual([
        { kind: 'removing', version: { scope: SCOPE, name: NAME, versionId: 'v1' } },
      ]);
      expect(out.slice.volume?.versions.v1).toEqual({ ...slice.volume?.versions.v1, leaseUntil: T0 + 500 });
      expect(out.slice.volume?.versions.v2).toBe(slice.volume?.versions.v2);
    }
  });

  it('leaves a removing version alone while its lease runs, unless forced', () => {
    const slice = sliceOf([version('v1', 1, { state: 'removing', leaseUntil: T0 + 1 })]);
    const out = claim(slice, T0);
    expect(out.claims).toEqual([]);
    expect(out.slice).toBe(slice);
    expect(claim(slice, T0, true).claims).toHaveLength(1);
  });

  it('never claims a committed version, and returns the very slice it was given when nothing is due', () => {
    const slice = sliceOf([version('v1', 1, { leaseUntil: 0 })], [fork('f1', { expiresAt: T0 + 1 })]);
    const out = claim(slice, T0, true);
    expect(out.claims).toEqual([]);
    expect(out.slice).toBe(slice);
    expect(out.slice.volume).toBe(slice.volume);
  });

  it('claims the forks of a slice that has no volume record', () => {
    const f = fork('f1', { state: 'creating', expiresAt: T0 });
    const { claims } = claim(sliceOf(null, [f]), T0);
    expect(claims).toEqual([{ kind: 'interrupted', fork: { ...f, expiresAt: T0 + 500 } }]);
  });

  it('claims everything due in one slice at once: forks and removals', () => {
    const slice = sliceOf(
      [version('v1', 1, { state: 'removing', leaseUntil: T0 })],
      [fork('a', { expiresAt: T0 }), fork('b', { state: 'committing', versionId: 'v2', expiresAt: T0 - 1 })],
    );
    const { claims, slice: next } = claim(slice, T0);
    expect(claims.map((c) => c.kind).sort()).toEqual(['interrupted', 'lease-expired', 'removing']);
    expect(claimDue(next, { now: T0, until: T0 + 500 }).claims).toEqual([]);
  });
});
