import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  beginAbandon,
  beginAttach,
  beginCommit,
  completeAbandon,
  completeAttach,
  completeCommit,
  emptySlice,
  type ForkRecord,
  forkCapacity,
  GIB,
  headOf,
  isLive,
  type Policy,
  parseSize,
  planRetention,
  resolvePolicy,
  selectParent,
  type VolumeRecord,
  type VolumeSlice,
} from '../../src/index.js';
import {
  arbBadSizeText,
  arbHost,
  arbPolicy,
  arbSizeText,
  arbSlices,
  arbTime,
  arbVolume,
  assertAbandonChangesNothing,
  assertCapacityFollowsSizeMath,
  assertCommitsDurable,
  assertHeadIsLastCommitted,
  assertRetentionSparesLiveForks,
  assertSelectionValid,
  assertStateInvariants,
  type CommitRecord,
  propertyParameters,
} from '../../src/testing/index.js';

const NOW = 1_750_000_000_000;
const params = propertyParameters(200);

describe('size math', () => {
  it('parses every valid Ng to N * 2^30 bytes', () => {
    fc.assert(
      fc.property(arbSizeText, (text) => {
        expect(parseSize(text)).toBe(Number.parseInt(text, 10) * GIB);
      }),
      params,
    );
  });

  it('refuses every malformed or too-small size with INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(arbBadSizeText, (text) => {
        expect(() => parseSize(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      }),
      params,
    );
  });

  it('gives base used bytes + requested on a hit and requested on a miss', () => {
    fc.assert(
      fc.property(arbSizeText, fc.option(fc.nat(100 * GIB), { nil: undefined }), (size, used) => {
        expect(forkCapacity(parseSize(size), used)).toBe(parseSize(size) + (used ?? 0));
      }),
      params,
    );
  });
});

describe('parent selection', () => {
  it('never returns an expired, removed or uncommitted version, and prefers the head', () => {
    fc.assert(
      fc.property(
        arbVolume(NOW, 12),
        arbHost,
        arbPolicy,
        fc.nat(30 * 24 * 3600 * 1000),
        (volume, host, policy, later) => {
          const now = NOW + later;
          assertSelectionValid(selectParent(volume, [], { host, now }, policy), volume, host, now, policy);
        },
      ),
      params,
    );
  });

  it('picks what a scan of every version picks: the newest usable one', () => {
    const scan = (volume: VolumeRecord, forks: ForkRecord[], host: string, now: number, policy: Policy) => {
      const head = headOf(volume);
      const users = (id: string) => forks.filter((f) => f.baseId === id && isLive(f)).length;
      // Committed versions newest first; a version's index is how many commits it is behind the head.
      const committed = Object.values(volume.versions)
        .filter((v) => v.state === 'committed')
        .sort((a, b) => b.seq - a.seq);
      const usable = committed.filter(
        (v, behind) =>
          now - v.lastUsedAt < policy.retentionMs &&
          (policy.transfer || v.hosts.includes(host)) &&
          users(v.id) < policy.maxForksPerVersion &&
          (v === head ||
            (head !== undefined &&
              behind <= policy.maxStaleVersions &&
              now - v.committedAt <= policy.maxStaleMs)),
      );
      return usable[0]?.id ?? null;
    };
    fc.assert(
      fc.property(
        arbSlices(NOW),
        arbHost,
        arbPolicy,
        fc.nat(20 * 24 * 3600 * 1000),
        (slices, host, policy, later) => {
          for (const { volume, forks } of slices) {
            if (!volume) continue;
            const own = Object.values(forks);
            const picked = selectParent(volume, own, { host, now: NOW + later }, policy);
            expect(picked.version?.id ?? null).toBe(scan(volume, own, host, NOW + later, policy));
          }
        },
      ),
      params,
    );
  });

  it('is a pure function of its inputs', () => {
    fc.assert(
      fc.property(arbSlices(NOW), arbHost, arbPolicy, (slices, host, policy) => {
        const before = structuredClone(slices);
        for (const { volume, forks } of slices) {
          if (!volume) continue;
          const a = selectParent(volume, Object.values(forks), { host, now: NOW }, policy);
          const b = selectParent(volume, Object.values(forks), { host, now: NOW }, policy);
          expect(a).toEqual(b);
        }
        expect(slices).toEqual(before);
      }),
      params,
    );
  });

  it('passes over versions at their usage bound', () => {
    fc.assert(
      fc.property(arbSlices(NOW), arbHost, fc.integer({ min: 1, max: 2 }), (slices, host, bound) => {
        const policy = resolvePolicy({ maxForksPerVersion: bound, transfer: true });
        for (const { volume, forks } of slices) {
          if (!volume) continue;
          const chosen = selectParent(volume, Object.values(forks), { host, now: NOW }, policy).version;
          if (!chosen) continue;
          const users = Object.values(forks).filter((f) => f.baseId === chosen.id && isLive(f)).length;
          expect(users).toBeLessThan(bound);
        }
      }),
      params,
    );
  });

  it('hits the head when it is local, fresh and free', () => {
    fc.assert(
      fc.property(arbVolume(NOW, 6), (volume) => {
        const head = headOf(volume);
        fc.pre(head !== undefined);
        const fresh = {
          ...volume,
          versions: { ...volume.versions, [head.id]: { ...head, lastUsedAt: NOW, hosts: ['h'] } },
        };
        expect(selectParent(fresh, [], { host: 'h', now: NOW }, resolvePolicy()).result).toBe('hit');
      }),
      params,
    );
  });
});

describe('retention', () => {
  it('never plans to remove a version a live fork depends on', () => {
    fc.assert(
      fc.property(arbSlices(NOW), arbPolicy, fc.nat(40 * 24 * 3600 * 1000), (slices, policy, later) => {
        assertRetentionSparesLiveForks(slices, planRetention(slices, NOW + later, policy));
      }),
      params,
    );
  });

  it('removes every unprotected expired version, and gets under the byte budget when it can', () => {
    fc.assert(
      fc.property(arbSlices(NOW), arbPolicy, (slices, policy) => {
        const plan = planRetention(slices, NOW, policy);
        const planned = new Set(plan.map((p) => p.versionId));
        const protectedIds = new Set(
          slices.flatMap((s) =>
            Object.values(s.forks)
              .filter(isLive)
              .map((f) => f.baseId),
          ),
        );
        let kept = 0;
        let protectedBytes = 0;
        for (const { volume } of slices) {
          for (const v of Object.values(volume?.versions ?? {})) {
            if (v.state !== 'committed') continue;
            const expired = NOW - v.lastUsedAt >= policy.retentionMs;
            if (expired && !protectedIds.has(v.id)) expect(planned.has(v.id)).toBe(true);
            if (!planned.has(v.id)) kept += v.usedBytes;
            if (protectedIds.has(v.id)) protectedBytes += v.usedBytes;
          }
        }
        if (protectedBytes <= policy.maxTotalBytes) expect(kept).toBeLessThanOrEqual(policy.maxTotalBytes);
      }),
      params,
    );
  });
});

/** Random sequences of pure transitions: attach, commit, abandon, on two volumes and two hosts. */
describe('transitions', () => {
  const arbOps = fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant('attach' as const),
        volume: fc.constantFrom('a', 'b'),
        host: fc.constantFrom('h1', 'h2'),
        size: arbSizeText,
      }),
      fc.record({
        op: fc.constantFrom('commit' as const, 'abandon' as const),
        fork: fc.nat(20),
        used: fc.nat(10 * GIB),
      }),
      fc.record({ op: fc.constant('tick' as const), ms: fc.nat(3 * 24 * 3600 * 1000) }),
    ),
    { maxLength: 40 },
  );

  it('keep every state invariant, whatever the order of operations', () => {
    fc.assert(
      fc.property(arbOps, arbTime, (ops, start) => {
        const slices = new Map<string, VolumeSlice>(
          ['a', 'b'].map((name) => [name, emptySlice({ scope: 's', name })]),
        );
        const volumeOf = new Map<string, string>();
        let now = start;
        let n = 0;
        const live: string[] = [];
        const log: CommitRecord[] = [];
        const policy = resolvePolicy();
        for (const step of ops) {
          if (step.op === 'tick') {
            now += step.ms;
          } else if (step.op === 'attach') {
            const forkId = `f${++n}`;
            const slice = slices.get(step.volume) as VolumeSlice;
            const begun = beginAttach(slice, {
              forkId,
              host: step.host,
              job: 'j',
              requestedBytes: parseSize(step.size),
              commitMode: 'on-success',
              leaseMs: 1000,
              now,
              policy,
            });
            assertSelectionValid(begun.selection, slice.volume ?? undefined, step.host, now, policy);
            assertCapacityFollowsSizeMath(begun.fork, begun.selection.version?.usedBytes);
            slices.set(step.volume, completeAttach(begun.slice, forkId, `/m/${forkId}`));
            volumeOf.set(forkId, step.volume);
            live.push(forkId);
          } else if (live.length > 0) {
            const forkId = live.splice(step.fork % live.length, 1)[0] as string;
            const name = volumeOf.get(forkId) as string;
            const slice = slices.get(name) as VolumeSlice;
            if (step.op === 'commit') {
              const versionId = `v${++n}`;
              const next = completeCommit(
                beginCommit(slice, forkId, versionId, now),
                forkId,
                step.used,
                now,
              ).slice;
              slices.set(name, next);
              log.push({ scope: 's', name, versionId });
              expect(headOf(next.volume ?? undefined)?.id).toBe(versionId);
            } else {
              const next = completeAbandon(beginAbandon(slice, forkId), forkId, now);
              assertAbandonChangesNothing([slice], [next]);
              slices.set(name, next);
            }
          }
          const all = [...slices.values()];
          assertStateInvariants(all, log);
          assertHeadIsLastCommitted(all);
          assertCommitsDurable(all, log);
        }
      }),
      params,
    );
  });

  it('never change the slice they are given', () => {
    fc.assert(
      fc.property(arbSlices(NOW), (slices) => {
        const frozen = structuredClone(slices);
        for (const slice of slices) {
          for (const fork of Object.values(slice.forks)) {
            try {
              beginAbandon(slice, fork.id);
            } catch {}
            try {
              beginCommit(slice, fork.id, 'vx', NOW);
            } catch {}
            try {
              completeCommit(slice, fork.id, 5, NOW, { repaired: true });
            } catch {}
          }
        }
        expect(slices).toEqual(frozen);
      }),
      params,
    );
  });
});
