import { describe, expect, it } from 'vitest';
import {
  createSubvolumeArgs,
  deleteSubvolumeArgs,
  deleteSubvolumeByIdArgs,
  filesystemDuArgs,
  listSubvolumesArgs,
  qgroupClearStaleArgs,
  qgroupLimitArgs,
  qgroupShowArgs,
  quotaEnableArgs,
  quotaRescanArgs,
  rootIdArgs,
  snapshotArgs,
  versionArgs,
} from '../src/internal/argv.js';

const R = '/mnt/pool/cache';

describe('btrfs argv builders', () => {
  it('builds the version probe', () => {
    expect(versionArgs()).toEqual(['--version']);
  });

  it('builds subvolume create, snapshot, delete and list', () => {
    expect(createSubvolumeArgs(`${R}/forks/.tmp-f1`)).toEqual([
      'subvolume',
      'create',
      '/mnt/pool/cache/forks/.tmp-f1',
    ]);
    expect(snapshotArgs(`${R}/versions/v1`, `${R}/forks/.tmp-f2`, false)).toEqual([
      'subvolume',
      'snapshot',
      '/mnt/pool/cache/versions/v1',
      '/mnt/pool/cache/forks/.tmp-f2',
    ]);
    expect(snapshotArgs(`${R}/forks/f2`, `${R}/versions/v2`, true)).toEqual([
      'subvolume',
      'snapshot',
      '-r',
      '/mnt/pool/cache/forks/f2',
      '/mnt/pool/cache/versions/v2',
    ]);
    expect(deleteSubvolumeArgs(`${R}/forks/.trash-f1`)).toEqual([
      'subvolume',
      'delete',
      '/mnt/pool/cache/forks/.trash-f1',
    ]);
    expect(deleteSubvolumeByIdArgs(261, R)).toEqual(['subvolume', 'delete', '-i', '261', '/mnt/pool/cache']);
    expect(listSubvolumesArgs(R)).toEqual(['subvolume', 'list', '/mnt/pool/cache']);
  });

  it('builds rootid', () => {
    expect(rootIdArgs(`${R}/forks/f1`)).toEqual(['inspect-internal', 'rootid', '/mnt/pool/cache/forks/f1']);
  });

  it('builds quota enable and rescan (start and wait, or only wait)', () => {
    expect(quotaEnableArgs(R)).toEqual(['quota', 'enable', '/mnt/pool/cache']);
    expect(quotaRescanArgs(R, true)).toEqual(['quota', 'rescan', '-w', '/mnt/pool/cache']);
    expect(quotaRescanArgs(R, false)).toEqual(['quota', 'rescan', '-W', '/mnt/pool/cache']);
  });

  it('builds qgroup limit, show (with and without a sync) and clear-stale', () => {
    expect(qgroupLimitArgs(21474836480, `${R}/forks/.tmp-f1`)).toEqual([
      'qgroup',
      'limit',
      '21474836480',
      '/mnt/pool/cache/forks/.tmp-f1',
    ]);
    expect(qgroupShowArgs(`${R}/forks/f1`, true)).toEqual([
      'qgroup',
      'show',
      '--raw',
      '-f',
      '--sync',
      '/mnt/pool/cache/forks/f1',
    ]);
    expect(qgroupShowArgs(`${R}/versions/v1`, false)).toEqual([
      'qgroup',
      'show',
      '--raw',
      '-f',
      '/mnt/pool/cache/versions/v1',
    ]);
    expect(qgroupClearStaleArgs(R)).toEqual(['qgroup', 'clear-stale', '/mnt/pool/cache']);
  });

  it('builds filesystem du', () => {
    expect(filesystemDuArgs(`${R}/versions/v1`)).toEqual([
      'filesystem',
      'du',
      '-s',
      '--raw',
      '/mnt/pool/cache/versions/v1',
    ]);
  });
});
