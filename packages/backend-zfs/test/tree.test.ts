import { describe, expect, it } from 'vitest';
import { layoutOf } from '../src/internal/layout.js';
import {
  collectable,
  entriesOf,
  isLiveVersion,
  parseProperties,
  parseTree,
  versionSnapshot,
} from '../src/internal/tree.js';

const layout = layoutOf('tank/ci');

/** Builds `zfs get -H -p -o name,property,value` output from rows of the tree properties. */
function output(
  rows: [
    name: string,
    type: string,
    origin?: string,
    mountpoint?: string,
    mounted?: string,
    deleted?: string,
    version?: string,
  ][],
) {
  return rows
    .flatMap(([name, type, origin = '-', mountpoint = '-', mounted = '-', deleted = '-', version = '-']) => [
      `${name}\ttype\t${type}`,
      `${name}\torigin\t${origin}`,
      `${name}\tmountpoint\t${mountpoint}`,
      `${name}\tmounted\t${mounted}`,
      `${name}\tcachevol:deleted\t${deleted}`,
      `${name}\tcachevol:version\t${version}`,
    ])
    .join('\n')
    .concat('\n');
}

const base: Parameters<typeof output>[0] = [
  ['tank/ci', 'filesystem', '-', '/tank/ci', 'yes'],
  ['tank/ci/forks', 'filesystem', '-', '/tank/ci/forks', 'yes'],
  ['tank/ci/versions', 'filesystem', '-', 'none', 'no'],
];

describe('parsing zfs get output', () => {
  it('reads name, property and value, keeping tabs inside values', () => {
    const parsed = parseProperties('tank/a\tused\t4096\ntank/a\tmountpoint\t/mnt/with\ttab\n\nbad line\n');
    expect(parsed.get('tank/a')).toEqual(
      new Map([
        ['used', '4096'],
        ['mountpoint', '/mnt/with\ttab'],
      ]),
    );
    expect(parsed.size).toBe(1);
  });

  it('turns "-" into null and yes/on into booleans', () => {
    const tree = parseTree(
      output([
        ['tank/ci/forks/f1', 'filesystem', 'tank/ci/versions/v1@v', '/tank/ci/forks/f1', 'yes'],
        ['tank/ci/versions/v1', 'filesystem', '-', 'none', 'no', 'on'],
        ['tank/ci/versions/v1@v', 'snapshot', '-', '-', '-', 'on'],
      ]),
    );
    expect(tree.get('tank/ci/forks/f1')).toEqual({
      type: 'filesystem',
      origin: 'tank/ci/versions/v1@v',
      mountpoint: '/tank/ci/forks/f1',
      mounted: true,
      deleted: false,
      version: null,
    });
    expect(tree.get('tank/ci/versions/v1')).toMatchObject({
      origin: null,
      mountpoint: 'none',
      mounted: false,
      deleted: true,
    });
    expect(tree.get('tank/ci/versions/v1@v')).toMatchObject({ type: 'snapshot', mountpoint: null });
  });
});

describe('what the backend holds', () => {
  it('lists forks and live versions only', () => {
    const tree = parseTree(
      output([
        ...base,
        ['tank/ci/forks/f1', 'filesystem', '-', '/tank/ci/forks/f1', 'yes'],
        ['tank/ci/forks/f1@v', 'snapshot'],
        ['tank/ci/forks/f2', 'filesystem', 'tank/ci/versions/v1@v', '/tank/ci/forks/f2', 'no'],
        ['tank/ci/versions/v1', 'filesystem', '-', 'none', 'no'],
        ['tank/ci/versions/v1@v', 'snapshot'],
        ['tank/ci/versions/v0', 'filesystem', '-', 'none', 'no', 'on'],
        ['tank/ci/versions/v0@v', 'snapshot', '-', '-', '-', 'on'],
        ['tank/ci/versions/NOT-OURS', 'filesystem', '-', 'none', 'no'],
        ['tank/ci/forks/f1/nested', 'filesystem', '-', '/x', 'yes'],
        ['tank/ci/other', 'filesystem', '-', '/tank/ci/other', 'yes'],
      ]),
    );
    expect(entriesOf(tree, layout)).toEqual([
      { kind: 'fork', id: 'f1' },
      { kind: 'fork', id: 'f2' },
      { kind: 'version', id: 'v1' },
    ]);
    expect(isLiveVersion(tree, 'tank/ci/versions/v1')).toBe(true);
    expect(isLiveVersion(tree, 'tank/ci/versions/v0')).toBe(false);
    expect(isLiveVersion(tree, 'tank/ci/versions/v9')).toBe(false);
  });

  it('counts a committed fork not filed yet as its version, and no longer as a fork', () => {
    const tree = parseTree(
      output([
        ...base,
        ['tank/ci/forks/f1', 'filesystem', '-', '/tank/ci/forks/f1', 'yes'],
        ['tank/ci/forks/f1@v', 'snapshot', '-', '-', '-', '-', 'v3'],
        ['tank/ci/versions/v1', 'filesystem', '-', 'none', 'no'],
        ['tank/ci/versions/v1@v', 'snapshot'],
        // A reused id: versions/v1 holds v1, so this fork stays a fork.
        ['tank/ci/forks/f2', 'filesystem', '-', '/tank/ci/forks/f2', 'yes'],
        ['tank/ci/forks/f2@v', 'snapshot', '-', '-', '-', '-', 'v1'],
        // An interrupted commit of an earlier release: a snapshot without the property.
        ['tank/ci/forks/f3', 'filesystem', '-', '/tank/ci/forks/f3', 'yes'],
        ['tank/ci/forks/f3@v', 'snapshot'],
      ]),
    );
    expect(entriesOf(tree, layout)).toEqual([
      { kind: 'fork', id: 'f2' },
      { kind: 'fork', id: 'f3' },
      { kind: 'version', id: 'v1' },
      { kind: 'version', id: 'v3' },
    ]);
    expect(versionSnapshot(tree, layout, 'v3')).toBe('tank/ci/forks/f1@v');
    expect(versionSnapshot(tree, layout, 'v1')).toBe('tank/ci/versions/v1@v');
    expect(versionSnapshot(tree, layout, 'v9')).toBeUndefined();
  });

  it('is empty for a fresh parent dataset', () => {
    expect(entriesOf(parseTree(output([['tank/ci', 'filesystem', '-', '/tank/ci', 'yes']])), layout)).toEqual(
      [],
    );
  });
});

describe('collecting removed versions', () => {
  it('waits while a clone depends on a removed version', () => {
    const tree = parseTree(
      output([
        ...base,
        ['tank/ci/versions/v1', 'filesystem', '-', 'none', 'no', 'on'],
        ['tank/ci/versions/v1@v', 'snapshot'],
        ['tank/ci/forks/f2', 'filesystem', 'tank/ci/versions/v1@v', '/tank/ci/forks/f2', 'yes'],
      ]),
    );
    expect(collectable(tree, layout)).toEqual([]);
  });

  it('walks up origins: a chain of removed versions goes dependents first', () => {
    const tree = parseTree(
      output([
        ...base,
        ['tank/ci/versions/a', 'filesystem', '-', 'none', 'no', 'on'],
        ['tank/ci/versions/a@v', 'snapshot'],
        ['tank/ci/versions/b', 'filesystem', 'tank/ci/versions/a@v', 'none', 'no', 'on'],
        ['tank/ci/versions/b@v', 'snapshot'],
        ['tank/ci/versions/c', 'filesystem', 'tank/ci/versions/b@v', 'none', 'no', 'on'],
        ['tank/ci/versions/c@v', 'snapshot'],
        ['tank/ci/versions/live', 'filesystem', '-', 'none', 'no'],
        ['tank/ci/versions/live@v', 'snapshot'],
      ]),
    );
    expect(collectable(tree, layout)).toEqual([
      'tank/ci/versions/c',
      'tank/ci/versions/b',
      'tank/ci/versions/a',
    ]);
  });

  it('stops at a removed version that still has another dependent', () => {
    const tree = parseTree(
      output([
        ...base,
        ['tank/ci/versions/a', 'filesystem', '-', 'none', 'no', 'on'],
        ['tank/ci/versions/a@v', 'snapshot'],
        ['tank/ci/versions/b', 'filesystem', 'tank/ci/versions/a@v', 'none', 'no', 'on'],
        ['tank/ci/versions/b@v', 'snapshot'],
        ['tank/ci/forks/f9', 'filesystem', 'tank/ci/versions/a@v', '/tank/ci/forks/f9', 'yes'],
        ['tank/ci/versions/live', 'filesystem', 'tank/ci/versions/b@v', 'none', 'no'],
        ['tank/ci/versions/live@v', 'snapshot'],
      ]),
    );
    expect(collectable(tree, layout)).toEqual([]);
  });

  it('collects a removed version whose snapshot is already gone (an interrupted destroy)', () => {
    const tree = parseTree(output([...base, ['tank/ci/versions/a', 'filesystem', '-', 'none', 'no', 'on']]));
    expect(collectable(tree, layout)).toEqual(['tank/ci/versions/a']);
  });
});
