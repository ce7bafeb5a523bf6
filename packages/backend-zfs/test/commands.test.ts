import { describe, expect, it } from 'vitest';
import {
  createLayoutArgs,
  destroyArgs,
  getArgs,
  snapshotArgs,
  TREE_PROPERTIES,
} from '../src/internal/commands.js';
import { forkDataset, layoutOf, snapshotOf, versionDataset } from '../src/internal/layout.js';

const layout = layoutOf('tank/ci');

describe('zfs argv', () => {
  it('names datasets after the layout', () => {
    expect(layout).toEqual({
      root: 'tank/ci',
      forks: 'tank/ci/forks',
      versions: 'tank/ci/versions',
    });
    expect(forkDataset(layout, 'f1')).toBe('tank/ci/forks/f1');
    expect(versionDataset(layout, 'v1')).toBe('tank/ci/versions/v1');
    expect(snapshotOf('tank/ci/versions/v1')).toBe('tank/ci/versions/v1@v');
  });

  it('reads the whole tree with one recursive, parseable get', () => {
    expect(getArgs(['tank/ci'], TREE_PROPERTIES, true)).toEqual([
      'get',
      '-H',
      '-p',
      '-r',
      '-o',
      'name,property,value',
      'type,origin,mountpoint,mounted,cachevol:deleted,cachevol:version',
      'tank/ci',
    ]);
    expect(getArgs(['tank/ci/forks/f1'], ['referenced', 'cachevol:deleted'])).toEqual([
      'get',
      '-H',
      '-p',
      '-o',
      'name,property,value',
      'referenced,cachevol:deleted',
      'tank/ci/forks/f1',
    ]);
  });

  it('creates layout datasets with or without a mountpoint', () => {
    expect(createLayoutArgs('tank/ci/versions', 'none')).toEqual([
      'create',
      '-o',
      'mountpoint=none',
      'tank/ci/versions',
    ]);
    expect(createLayoutArgs('tank/ci/forks', '/mnt/forks')).toEqual([
      'create',
      '-o',
      'mountpoint=/mnt/forks',
      'tank/ci/forks',
    ]);
    expect(createLayoutArgs('tank/ci/forks')).toEqual(['create', 'tank/ci/forks']);
  });

  it('snapshots (naming the version) and destroys', () => {
    expect(snapshotArgs('tank/ci/forks/f1@v')).toEqual(['snapshot', 'tank/ci/forks/f1@v']);
    expect(snapshotArgs('tank/ci/forks/f1@v', 'v7')).toEqual([
      'snapshot',
      '-o',
      'cachevol:version=v7',
      'tank/ci/forks/f1@v',
    ]);
    expect(destroyArgs('tank/ci/versions/v1')).toEqual(['destroy', '-r', 'tank/ci/versions/v1']);
  });
});
