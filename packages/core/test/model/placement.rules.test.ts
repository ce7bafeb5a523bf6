import { describe, expect, it } from 'vitest';
import {
  estimateTransfer,
  type FleetView,
  heldBases,
  planAttach,
  UNKNOWN_CHANGE_SHARE,
} from '../../src/model/placement.js';
import { DAY_MS, type Policy, resolvePolicy } from '../../src/model/policy.js';
import type { VersionRecord } from '../../src/model/state.js';
import { fork, T0, version, volumeOf } from './fixtures.js';

/** One test per rule of selection that weighs transfer (`model/placement.ts`). */

const MB = 2 ** 20;
const fleet = (overrides: Partial<FleetView> = {}): FleetView => ({
  peers: ['a', 'c'],
  restorable: () => false,
  bytesPerSecond: 10 * MB,
  setupMs: 100,
  budgetMs: 10_000,
  ...overrides,
});
const plan = (
  versions: VersionRecord[],
  view = fleet(),
  policy: Partial<Policy> = {},
  forks = [],
  now = T0,
) => planAttach(volumeOf(versions), forks, { host: 'b', now }, resolvePolicy(policy), view);

/** v1 on a and b, v2 (its child) on a only: the head is elsewhere, an ancestor is here. */
const chain = (v2: Partial<VersionRecord> = {}) => [
  version('v1', 1, { hosts: ['a', 'b'], usedBytes: 100 * MB }),
  version('v2', 2, { hosts: ['a'], baseId: 'v1', usedBytes: 100 * MB, ...v2 }),
];

describe('heldBases', () => {
  it('lists the versions the host holds, its nearest ancestors first, then the newest others', () => {
    const volume = volumeOf([
      version('v1', 1, { hosts: ['b'] }),
      version('v2', 2, { hosts: ['b'], baseId: 'v1' }),
      version('v3', 3, { hosts: ['b'] }),
      version('v4', 4, { hosts: ['a'], baseId: 'v2' }),
      version('v5', 5, { hosts: ['a'], baseId: 'v4' }),
    ]);
    expect(heldBases(volume, 'v5', 'b')).toEqual(['v2', 'v1', 'v3']);
    expect(heldBases(volume, 'v5', 'c')).toEqual([]);
    expect(heldBases(null, 'v5', 'b')).toEqual([]);
  });

  it('skips versions being removed, and stops at a cycle of bases', () => {
    const volume = volumeOf([
      version('v1', 1, { hosts: ['b'], state: 'removing', baseId: 'v2' }),
      version('v2', 2, { hosts: ['b'], baseId: 'v1' }),
      version('v3', 3, { hosts: ['a'], baseId: 'v2' }),
    ]);
    expect(heldBases(volume, 'v3', 'b')).toEqual(['v2']);
  });
});

describe('estimateTransfer', () => {
  it('is the whole version without a local ancestor, plus the set-up cost', () => {
    const volume = volumeOf([version('v2', 2, { hosts: ['a'], usedBytes: 50 * MB })]);
    const head = volume.versions.v2 as VersionRecord;
    expect(estimateTransfer(volume, head, 'b', fleet())).toEqual({
      baseId: null,
      bytes: 50 * MB,
      ms: 100 + 5000,
    });
  });

  it('from a local ancestor, is the growth in used bytes, or a share of the version when larger', () => {
    const grown = volumeOf(chain({ usedBytes: 130 * MB }));
    expect(estimateTransfer(grown, grown.versions.v2 as VersionRecord, 'b', fleet()).bytes).toBe(30 * MB);
    const same = volumeOf(chain());
    expect(estimateTransfer(same, same.versions.v2 as VersionRecord, 'b', fleet())).toEqual({
      baseId: 'v1',
      bytes: Math.ceil(100 * MB * UNKNOWN_CHANGE_SHARE),
      ms: 100 + 1000,
    });
  });

  it('never exceeds the whole version (a base larger than it)', () => {
    const volume = volumeOf([
      version('v1', 1, { hosts: ['b'], usedBytes: 10 * MB }),
      version('v2', 2, { hosts: ['a'], baseId: 'v1', usedBytes: 1 }),
    ]);
    expect(estimateTransfer(volume, volume.versions.v2 as VersionRecord, 'b', fleet()).bytes).toBe(1);
  });
});

describe('planAttach', () => {
  it('is local (a hit) when the host holds the head, and a miss with nothing committed', () => {
    const here = plan([version('v1', 1, { hosts: ['a', 'b'] })]);
    expect(here).toMatchObject({ action: 'local', head: null, sources: [], estimate: null });
    expect(here.local.result).toBe('hit');
    const empty = planAttach(undefined, [], { host: 'b', now: T0 }, resolvePolicy(), fleet());
    expect(empty).toMatchObject({ action: 'local', local: { result: 'miss', reason: 'no-versions' } });
  });

  it('pulls a head held elsewhere when the estimate fits the budget, from the peers that hold it', () => {
    const p = plan(chain({ hosts: ['a', 'c', 'd'] }));
    expect(p.action).toBe('pull');
    expect(p.head?.id).toBe('v2');
    // d holds it but is not a known peer.
    expect(p.sources).toEqual([
      { kind: 'peer', host: 'a' },
      { kind: 'peer', host: 'c' },
    ]);
    expect(p.local).toMatchObject({ result: 'stale', version: { id: 'v1' } });
    expect(p.estimate).toEqual({ baseId: 'v1', bytes: 10 * MB, ms: 1100 });
  });

  it('prefetches when the estimate exceeds the budget; an estimate equal to it still pulls', () => {
    expect(plan(chain(), fleet({ budgetMs: 1099 })).action).toBe('prefetch');
    expect(plan(chain(), fleet({ budgetMs: 1100 })).action).toBe('pull');
  });

  it('adds the object store after the peers when it can restore the head, and uses it alone', () => {
    const restorable = (_: unknown, v: VersionRecord) => v.id === 'v2';
    expect(plan(chain(), fleet({ restorable })).sources).toEqual([
      { kind: 'peer', host: 'a' },
      { kind: 'objects' },
    ]);
    const alone = plan(chain({ hosts: ['x'] }), fleet({ restorable }));
    expect(alone).toMatchObject({ action: 'pull', sources: [{ kind: 'objects' }] });
  });

  it('is local when no known peer holds the head and the object store cannot restore it', () => {
    const p = plan(chain({ hosts: ['x'] }));
    expect(p).toMatchObject({ action: 'local', head: null, local: { result: 'stale' } });
  });

  it('never lists the requesting host as a source, even when it is named a peer', () => {
    const p = plan(chain({ hosts: ['a', 'b'] }), fleet({ peers: ['b', 'a'] }));
    expect(p.action).toBe('local');
    expect(plan(chain(), fleet({ peers: ['b', 'a'] })).sources).toEqual([{ kind: 'peer', host: 'a' }]);
  });

  it('is local when the head is expired or at its usage bound', () => {
    const expired = plan(chain({ lastUsedAt: T0 - 15 * DAY_MS }));
    expect(expired.action).toBe('local');
    const busy = plan(chain(), fleet(), { maxForksPerVersion: 1 }, [fork('f1', { baseId: 'v2' })] as never);
    expect(busy.action).toBe('local');
    const free = plan(chain(), fleet(), { maxForksPerVersion: 2 }, [fork('f1', { baseId: 'v2' })] as never);
    expect(free.action).toBe('pull');
  });

  it('is local while this host is receiving the head already, and plans again once that claim ended', () => {
    expect(plan(chain({ receiving: { b: T0 + 1 } })).action).toBe('local');
    expect(plan(chain({ receiving: { b: T0 } })).action).toBe('pull');
    expect(plan(chain({ receiving: { c: T0 + 1 } })).action).toBe('pull');
  });

  it('selects locally whatever the policy says of transfer (only local versions are forked)', () => {
    const p = plan(chain(), fleet(), { transfer: true });
    expect(p.local).toMatchObject({ result: 'stale', version: { id: 'v1' } });
  });
});
