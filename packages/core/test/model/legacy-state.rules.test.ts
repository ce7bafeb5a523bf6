import { describe, expect, it } from 'vitest';
import {
  type LegacyStateDocument,
  legacyStateProblem,
  slicesFromLegacyState,
} from '../../src/model/legacy-state.js';
import { fork, T0, version } from './fixtures.js';

/** Rules of the one-time import of a first-release `state.json`. */

const volume = (
  name: string,
  versions: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) => ({
  scope: 's',
  name,
  seq: 2,
  versions,
  versionIds: undefined,
  counts: { hit: 1, stale: 2, miss: 3 },
  lastUsedAt: T0,
  ...extra,
});

describe('legacyStateProblem', () => {
  it('accepts a schema 1 document with volumes and forks', () => {
    expect(legacyStateProblem({ schema: 1, volumes: {}, forks: {} })).toBeNull();
    expect(
      legacyStateProblem({
        schema: 1,
        volumes: { k: volume('a') },
        forks: { f1: { id: 'f1', scope: 's', name: 'a' } },
      }),
    ).toBeNull();
  });

  it('says why anything else is not one', () => {
    const cases: [unknown, string][] = [
      [null, 'it is not a JSON object'],
      [[], 'it is not a JSON object'],
      ['x', 'it is not a JSON object'],
      [{ schema: 2, volumes: {}, forks: {} }, 'it has schema 2, and this cachevol imports schema 1'],
      [{ schema: '1', volumes: {}, forks: {} }, 'it has no "schema": 1 field'],
      [{ volumes: {}, forks: {} }, 'it has no "schema": 1 field'],
      [{ schema: 1, volumes: [], forks: {} }, '"volumes" is not an object'],
      [{ schema: 1, volumes: {}, forks: null }, '"forks" is not an object'],
      [{ schema: 1, volumes: { k: 5 }, forks: {} }, 'volume "k" has no scope and name'],
      [
        { schema: 1, volumes: { k: { name: 'a', versions: {} } }, forks: {} },
        'volume "k" has no scope and name',
      ],
      [
        { schema: 1, volumes: { k: { scope: 's', versions: {} } }, forks: {} },
        'volume "k" has no scope and name',
      ],
      [
        { schema: 1, volumes: { k: { scope: 's', name: 'a' } }, forks: {} },
        'volume "k" has no "versions" object',
      ],
      [{ schema: 1, volumes: {}, forks: { f: 1 } }, 'fork "f" has no id, scope and name'],
      [
        { schema: 1, volumes: {}, forks: { f: { id: 'g', scope: 's', name: 'a' } } },
        'fork "f" has no id, scope and name',
      ],
      [
        { schema: 1, volumes: {}, forks: { f: { id: 'f', name: 'a' } } },
        'fork "f" has no id, scope and name',
      ],
      [
        { schema: 1, volumes: {}, forks: { f: { id: 'f', scope: 's' } } },
        'fork "f" has no id, scope and name',
      ],
    ];
    for (const [value, problem] of cases)
      expect(legacyStateProblem(value), JSON.stringify(value)).toBe(problem);
  });
});

describe('slicesFromLegacyState', () => {
  it('splits the document into one slice per volume, filling in the fields the first release lacked', () => {
    const { orderedAfterSeq: _o, leaseUntil: _l, ...old2 } = version('v2', 2);
    const { orderedAfterSeq: _o1, leaseUntil: _l1, ...old1 } = version('v1', 1);
    const doc = {
      schema: 1,
      volumes: { 'k-a': volume('a', { v2: old2, v1: old1 }) },
      forks: {
        f1: (({ commitAfterSeq: _c, ...rest }) => rest)(
          fork('f1', { name: 'a', state: 'committing', versionId: 'v3' }),
        ),
        f2: (({ commitAfterSeq: _c, ...rest }) => rest)(
          fork('f2', { name: 'a', state: 'abandoned', endedAt: T0 }),
        ),
        f3: fork('f3', { name: 'a', state: 'committing', commitAfterSeq: 1 }),
      },
    } as unknown as LegacyStateDocument;
    const [slice, ...rest] = slicesFromLegacyState(doc);
    expect(rest).toEqual([]);
    expect(slice?.volume).toEqual({
      scope: 's',
      name: 'a',
      seq: 2,
      versions: { v1: version('v1', 1), v2: version('v2', 2) },
      versionIds: ['v1', 'v2'],
      counts: { hit: 1, stale: 2, miss: 3 },
      lastUsedAt: T0,
    });
    expect(slice?.forks.f1?.commitAfterSeq).toBe(2);
    expect(slice?.forks.f2).toEqual(
      fork('f2', { name: 'a', state: 'abandoned', endedAt: T0, commitAfterSeq: null }),
    );
    expect(slice?.forks.f3?.commitAfterSeq).toBe(1);
  });

  it('keeps the fields a later document already has, and zero counts when it has none', () => {
    const doc = {
      schema: 1,
      volumes: {
        k: volume(
          'a',
          { v1: version('v1', 1, { orderedAfterSeq: 0, leaseUntil: T0 }) },
          { counts: undefined },
        ),
      },
      forks: {},
    } as unknown as LegacyStateDocument;
    const [slice] = slicesFromLegacyState(doc);
    expect(slice?.volume?.versions.v1).toMatchObject({ orderedAfterSeq: 0, leaseUntil: T0 });
    expect(slice?.volume?.counts).toEqual({ hit: 0, stale: 0, miss: 0 });
  });

  it('gives a fork of a volume without a record its own slice; a committing one began after seq 0', () => {
    const doc = {
      schema: 1,
      volumes: {},
      forks: { f1: { ...fork('f1', { name: 'b', state: 'committing' }), commitAfterSeq: undefined } },
    } as unknown as LegacyStateDocument;
    const slices = slicesFromLegacyState(doc);
    expect(slices).toHaveLength(1);
    expect(slices[0]).toMatchObject({ scope: 's', name: 'b', volume: null });
    expect(slices[0]?.forks.f1?.commitAfterSeq).toBe(0);
  });

  it('puts each fork with its own volume, several volumes apart', () => {
    const doc = {
      schema: 1,
      volumes: { ka: volume('a'), kb: volume('b') },
      forks: { f1: fork('f1', { name: 'b' }), f2: fork('f2', { name: 'a' }) },
    } as unknown as LegacyStateDocument;
    const slices = slicesFromLegacyState(doc);
    expect(slices.map((s) => [s.name, Object.keys(s.forks)])).toEqual([
      ['a', ['f2']],
      ['b', ['f1']],
    ]);
  });
});
