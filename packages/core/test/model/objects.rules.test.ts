import { describe, expect, it } from 'vitest';
import {
  beginDeleteObjects,
  beginTemporaryBase,
  beginUpload,
  completeDeleteObjects,
  completeUpload,
  DEFAULT_FULL_EVERY,
  endTemporaryBase,
  expiredTemporaryBases,
  failUpload,
  hasIncrementals,
  neededObjects,
  objectLineage,
  planUpload,
  renewUpload,
  restorePlan,
  takeOverTemporaryBase,
  unneededObjects,
} from '../../src/model/objects.js';
import type { ObjectCopy, VolumeRecord, VolumeSlice } from '../../src/model/state.js';
import { dropEmptyVolume } from '../../src/model/transitions.js';
import { sliceOf, T0, thrown, version, volumeOf } from './fixtures.js';

/** One test per rule of `model/objects.ts` (the properties are in objects.properties). */

/** A present object of `versionId` (full unless `baseId`), in btrfs-send, of `bytes`. */
function object(versionId: string, overrides: Partial<ObjectCopy> = {}): ObjectCopy {
  return {
    key: `k-${versionId}${overrides.baseId ? `-d-${overrides.baseId}` : ''}`,
    versionId,
    baseId: null,
    format: 'btrfs-send',
    bytes: 100,
    sha256: 'ab'.repeat(32),
    state: 'present',
    ...overrides,
  };
}

/** A chain v1 ← v2 ← … ← vN (each forked from the one before), with the given objects. */
function chain(n: number, objects: ObjectCopy[] = [], hosts = ['h']): VolumeRecord {
  const versions = Array.from({ length: n }, (_, i) =>
    version(`v${i + 1}`, i + 1, { baseId: i === 0 ? null : `v${i}`, hosts }),
  );
  return volumeOf(versions, objects.length > 0 ? { objects } : {});
}

const sliceWith = (volume: VolumeRecord): VolumeSlice => ({
  scope: volume.scope,
  name: volume.name,
  volume,
  forks: {},
});

describe('hasIncrementals', () => {
  it('is true for the send formats and false for tar-zstd', () => {
    expect(hasIncrementals('btrfs-send')).toBe(true);
    expect(hasIncrementals('zfs-send')).toBe(true);
    expect(hasIncrementals('tar-zstd')).toBe(false);
  });
});

describe('objectLineage', () => {
  it('walks the version records nearest first, then the bases of differentials past a record that is gone', () => {
    expect(objectLineage(chain(4), 'v4')).toEqual(['v3', 'v2', 'v1']);
    expect(objectLineage(chain(4), 'v1')).toEqual([]);
    // v3's record is gone; its differential says it came from v1.
    const volume = volumeOf([version('v4', 4, { baseId: 'v3' })], {
      objects: [object('v1'), object('v3', { baseId: 'v1' })],
    });
    expect(objectLineage(volume, 'v4')).toEqual(['v3', 'v1']);
    // A full object's (null) base says nothing.
    expect(
      objectLineage(volumeOf([version('v2', 2, { baseId: 'v1' })], { objects: [object('v1')] }), 'v2'),
    ).toEqual(['v1']);
  });

  it('follows only a differential of the version itself', () => {
    const volume = volumeOf([version('v4', 4, { baseId: 'v3' })], {
      objects: [object('v3'), object('v2', { baseId: 'v0' }), object('v3', { baseId: 'v1' })],
    });
    expect(objectLineage(volume, 'v4')).toEqual(['v3', 'v1']);
  });

  it('stops at a cycle', () => {
    const volume = volumeOf([version('v1', 1, { baseId: 'v2' }), version('v2', 2, { baseId: 'v1' })]);
    expect(objectLineage(volume, 'v2')).toEqual(['v1']);
  });
});

describe('planUpload', () => {
  it('uploads a full when the lineage has no full object, or the format has no incrementals', () => {
    expect(planUpload(chain(2), 'v2', 'btrfs-send')).toEqual({
      versionId: 'v2',
      format: 'btrfs-send',
      baseId: null,
    });
    const withFull = chain(2, [object('v1', { format: 'tar-zstd' })]);
    expect(planUpload(withFull, 'v2', 'tar-zstd')?.baseId).toBeNull();
    // A full in another format is no base.
    expect(planUpload(withFull, 'v2', 'btrfs-send')?.baseId).toBeNull();
  });

  it('uploads a differential against the nearest ancestor with a present full', () => {
    const volume = chain(3, [object('v1'), object('v2')]);
    expect(planUpload(volume, 'v3', 'btrfs-send')).toEqual({
      versionId: 'v3',
      format: 'btrfs-send',
      baseId: 'v2',
    });
    // A full that is being deleted or uploaded is no base.
    const deleting = chain(3, [object('v1'), object('v2', { state: 'deleting' })]);
    expect(planUpload(deleting, 'v3', 'btrfs-send')?.baseId).toBe('v1');
    const uploading = chain(2, [object('v1', { state: 'uploading', leaseUntil: T0 + 1 })]);
    expect(planUpload(uploading, 'v2', 'btrfs-send')?.baseId).toBeNull();
  });

  it('uploads a full after fullEvery - 1 differentials against the same full (default 8)', () => {
    expect(DEFAULT_FULL_EVERY).toBe(8);
    const diffs = (n: number) =>
      Array.from({ length: n }, (_, i) => object(`v${i + 2}`, { baseId: 'v1', bytes: 1 }));
    expect(planUpload(chain(9, [object('v1'), ...diffs(6)]), 'v9', 'btrfs-send')?.baseId).toBe('v1');
    expect(planUpload(chain(9, [object('v1'), ...diffs(7)]), 'v9', 'btrfs-send')?.baseId).toBeNull();
    expect(planUpload(chain(3, [object('v1'), ...diffs(1)]), 'v3', 'btrfs-send', 3)?.baseId).toBe('v1');
    expect(planUpload(chain(4, [object('v1'), ...diffs(2)]), 'v4', 'btrfs-send', 3)?.baseId).toBeNull();
    expect(planUpload(chain(2, [object('v1')]), 'v2', 'btrfs-send', 1)?.baseId).toBeNull();
    // Differentials in another format do not count.
    const other = [
      object('v2', { baseId: 'v1', format: 'zfs-send', bytes: 1 }),
      object('v3', { baseId: 'v1', format: 'zfs-send', bytes: 1 }),
    ];
    expect(planUpload(chain(4, [object('v1'), ...other]), 'v4', 'btrfs-send', 3)?.baseId).toBe('v1');
    // Differentials that are not present do not count.
    const gone = [
      object('v2', { baseId: 'v1', state: 'deleting' }),
      object('v3', { baseId: 'v1', state: 'deleting' }),
    ];
    expect(planUpload(chain(4, [object('v1'), ...gone]), 'v4', 'btrfs-send', 3)?.baseId).toBe('v1');
  });

  it('uploads a full once the last differential is more than half the full', () => {
    const at = (bytes: number) =>
      planUpload(
        chain(3, [object('v1', { bytes: 100 }), object('v2', { baseId: 'v1', bytes })]),
        'v3',
        'btrfs-send',
      )?.baseId;
    expect(at(50)).toBe('v1');
    expect(at(51)).toBeNull();
    // Only the last one counts.
    const volume = chain(4, [
      object('v1', { bytes: 100 }),
      object('v2', { baseId: 'v1', bytes: 90 }),
      object('v3', { baseId: 'v1', bytes: 10 }),
    ]);
    expect(planUpload(volume, 'v4', 'btrfs-send')?.baseId).toBe('v1');
  });

  it('plans nothing for a version that is not committed, or has an object in the format already', () => {
    expect(planUpload(chain(1), 'v9', 'btrfs-send')).toBeNull();
    expect(planUpload(volumeOf([version('v1', 1, { state: 'removing' })]), 'v1', 'btrfs-send')).toBeNull();
    expect(planUpload(chain(1, [object('v1')]), 'v1', 'btrfs-send')).toBeNull();
    expect(planUpload(chain(1, [object('v1', { state: 'uploading' })]), 'v1', 'btrfs-send')).toBeNull();
    // A deleting one, or one in another format, is no object of it.
    expect(planUpload(chain(1, [object('v1', { state: 'deleting' })]), 'v1', 'btrfs-send')).not.toBeNull();
    expect(planUpload(chain(1, [object('v1', { format: 'tar-zstd' })]), 'v1', 'btrfs-send')).not.toBeNull();
  });
});

describe('uploads', () => {
  const upload = { key: 'k-new', versionId: 'v2', format: 'btrfs-send' as const, baseId: 'v1' };

  it('beginUpload records an uploading object under a lease, with the planned base', () => {
    const begun = beginUpload(sliceWith(chain(2, [object('v1')])), upload, T0 + 5);
    expect(begun.volume?.objects?.[1]).toEqual({
      key: 'k-new',
      versionId: 'v2',
      baseId: 'v1',
      format: 'btrfs-send',
      bytes: 0,
      sha256: '',
      state: 'uploading',
      leaseUntil: T0 + 5,
    });
    expect(beginUpload(sliceWith(chain(2)), upload, T0).volume?.objects).toHaveLength(1);
  });

  it('beginUpload refuses a version that is not committed, and a key in use', () => {
    for (const slice of [sliceOf(null), sliceOf([version('v2', 2, { state: 'removing' })])]) {
      const error = thrown(() => beginUpload(slice, upload, T0));
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toBe(
        'Version "v2" of volume "vol" (scope "s") is gone or being removed: there is nothing to upload.',
      );
      expect(error.details).toEqual({ versionId: 'v2' });
    }
    const error = thrown(() =>
      beginUpload(sliceWith(chain(2, [object('v1', { key: 'k-new' })])), upload, T0),
    );
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.message).toBe('Object key "k-new" is in use already.');
    expect(error.details).toEqual({ key: 'k-new' });
  });

  it('completeUpload makes it present with what was stored; not once it left uploading', () => {
    const begun = beginUpload(sliceWith(chain(2, [object('v1')])), upload, T0 + 5);
    const done = completeUpload(begun, 'k-new', { baseId: null, bytes: 7, sha256: 'cd' });
    expect(done.kept).toBe(true);
    expect(done.slice.volume?.objects?.[1]).toEqual({
      key: 'k-new',
      versionId: 'v2',
      baseId: null,
      format: 'btrfs-send',
      bytes: 7,
      sha256: 'cd',
      state: 'present',
    });
    expect(done.slice.volume?.objects?.[0]).toEqual(object('v1'));
    const failed = failUpload(begun, 'k-new');
    expect(failed.volume?.objects?.[1]).toEqual({
      ...object('v2'),
      key: 'k-new',
      baseId: 'v1',
      bytes: 0,
      sha256: '',
      state: 'deleting',
    });
    expect(completeUpload(failed, 'k-new', { baseId: null, bytes: 7, sha256: 'cd' })).toEqual({
      slice: failed,
      kept: false,
    });
    expect(completeUpload(begun, 'k-other', { baseId: null, bytes: 7, sha256: 'cd' }).kept).toBe(false);
    expect(completeUpload(sliceOf(null), 'k-new', { baseId: null, bytes: 7, sha256: 'cd' })).toEqual({
      slice: sliceOf(null),
      kept: false,
    });
    expect(failUpload(done.slice, 'k-new')).toBe(done.slice);
  });

  it('renewUpload extends a running upload only', () => {
    const begun = beginUpload(sliceWith(chain(2)), upload, T0 + 5);
    expect(renewUpload(begun, 'k-new', T0 + 9).volume?.objects?.[0]?.leaseUntil).toBe(T0 + 9);
    const failed = failUpload(begun, 'k-new');
    expect(renewUpload(failed, 'k-new', T0 + 9)).toBe(failed);
    const plain = sliceOf([version('v1', 1)]);
    expect(renewUpload(plain, 'k-new', T0 + 9)).toBe(plain);
  });
});

describe('retention of objects', () => {
  it('needs present objects of committed versions and the fulls of needed differentials', () => {
    const volume = volumeOf([version('v3', 3, { baseId: 'v2' })], {
      objects: [
        object('v1'),
        object('v2'),
        object('v3', { baseId: 'v2' }),
        object('v3', { key: 'k-v3-tar', format: 'tar-zstd' }),
      ],
    });
    expect([...neededObjects(volume, T0)].sort()).toEqual(['k-v2', 'k-v3-d-v2', 'k-v3-tar']);
    expect(unneededObjects(volume, T0).map((o) => o.key)).toEqual(['k-v1']);
  });

  it('does not need the objects of a version being removed, nor deleting ones, nor a full in another format', () => {
    const volume = volumeOf([version('v1', 1, { state: 'removing' }), version('v2', 2)], {
      objects: [
        object('v1'),
        object('v2', { state: 'deleting' }),
        object('v2', { key: 'k-d', baseId: 'v1', format: 'zfs-send' }),
      ],
    });
    expect([...neededObjects(volume, T0)]).toEqual(['k-d']);
  });

  it('needs an upload until its lease ends, with its planned base', () => {
    const volume = volumeOf([version('v2', 2, { state: 'removing' })], {
      objects: [object('v1'), object('v2', { baseId: 'v1', state: 'uploading', leaseUntil: T0 + 1 })],
    });
    expect([...neededObjects(volume, T0)].sort()).toEqual(['k-v1', 'k-v2-d-v1']);
    expect([...neededObjects(volume, T0 + 1)]).toEqual([]);
    const noLease = volumeOf([version('v2', 2)], { objects: [object('v2', { state: 'uploading' })] });
    expect([...neededObjects(noLease, T0)]).toEqual([]);
    expect(neededObjects(volumeOf([]), T0).size).toBe(0);
  });

  it('beginDeleteObjects marks the unneeded deleting; completeDeleteObjects drops those deleted', () => {
    const volume = chain(1, [
      object('v0'),
      object('v1'),
      object('v9', { state: 'uploading', leaseUntil: T0 - 1 }),
    ]);
    const begun = beginDeleteObjects(sliceWith(volume), T0);
    expect(begun.keys).toEqual(['k-v0', 'k-v9']);
    expect(begun.slice.volume?.objects?.map((o) => [o.key, o.state, o.leaseUntil])).toEqual([
      ['k-v0', 'deleting', undefined],
      ['k-v1', 'present', undefined],
      ['k-v9', 'deleting', undefined],
    ]);
    // Again (a crash between): the same keys.
    expect(beginDeleteObjects(begun.slice, T0).keys).toEqual(['k-v0', 'k-v9']);
    const done = completeDeleteObjects(begun.slice, ['k-v0', 'k-v1']);
    expect(done.volume?.objects?.map((o) => o.key)).toEqual(['k-v1', 'k-v9']);
    const all = completeDeleteObjects(beginDeleteObjects(sliceWith(chain(0, [object('v0')])), T0).slice, [
      'k-v0',
    ]);
    expect(all.volume).not.toHaveProperty('objects');
    const nothing = sliceWith(chain(1, [object('v1')]));
    expect(beginDeleteObjects(nothing, T0).slice).toBe(nothing);
    expect(beginDeleteObjects(nothing, T0).keys).toEqual([]);
    expect(completeDeleteObjects(sliceOf(null), ['k'])).toEqual(sliceOf(null));
    expect(beginDeleteObjects(sliceOf(null), T0)).toEqual({ slice: sliceOf(null), keys: [] });
    const plain = sliceOf([version('v1', 1)]);
    expect(completeDeleteObjects(plain, ['k'])).toBe(plain);
  });

  it('dropEmptyVolume keeps a volume that still has objects or temporary bases', () => {
    expect(dropEmptyVolume(sliceWith(chain(0, [object('v1')]))).volume).not.toBeNull();
    const base = { host: 'h', versionId: 'v1', until: T0 };
    expect(dropEmptyVolume(sliceWith(volumeOf([], { temporaryBases: [base] }))).volume).not.toBeNull();
    expect(dropEmptyVolume(sliceWith(volumeOf([], { objects: [], temporaryBases: [] }))).volume).toBeNull();
  });
});

describe('restorePlan', () => {
  const formats = ['btrfs-send', 'tar-zstd'] as const;

  it('restores a full alone, and a differential alone when the host holds its base', () => {
    expect(restorePlan(chain(1, [object('v1')]), 'v1', 'b', formats)).toEqual({
      object: object('v1'),
      base: null,
      bytes: 100,
    });
    const volume = chain(2, [object('v1'), object('v2', { baseId: 'v1', bytes: 5 })], ['h', 'b']);
    expect(restorePlan(volume, 'v2', 'b', formats)).toEqual({
      object: object('v2', { baseId: 'v1', bytes: 5 }),
      base: null,
      bytes: 5,
    });
  });

  it('restores a differential after its full, kept or temporary by whether its version is committed', () => {
    const diff = object('v2', { baseId: 'v1', bytes: 5 });
    expect(restorePlan(chain(2, [object('v1'), diff]), 'v2', 'b', formats)).toEqual({
      object: diff,
      base: { object: object('v1'), temporary: false },
      bytes: 105,
    });
    const gone = volumeOf([version('v2', 2, { baseId: 'v1' })], { objects: [object('v1'), diff] });
    expect(restorePlan(gone, 'v2', 'b', formats)?.base).toEqual({ object: object('v1'), temporary: true });
    const removing = volumeOf([version('v1', 1, { state: 'removing', hosts: ['b'] }), version('v2', 2)], {
      objects: [object('v1'), diff],
    });
    expect(restorePlan(removing, 'v2', 'b', formats)?.base?.temporary).toBe(true);
    // The full must be present, full, and in the differential's format.
    for (const full of [
      object('v1', { state: 'deleting' }),
      object('v1', { format: 'tar-zstd' }),
      object('v1', { baseId: 'v0' }),
    ]) {
      expect(restorePlan(chain(2, [full, diff]), 'v2', 'b', formats)).toBeNull();
    }
  });

  it('picks the smallest download, then the fewest objects, then the first recorded', () => {
    const diff = object('v2', { baseId: 'v1', bytes: 5 });
    const full = object('v2', { bytes: 104 });
    expect(restorePlan(chain(2, [object('v1'), diff, full]), 'v2', 'b', formats)?.object).toEqual(full);
    const same = object('v2', { bytes: 105 });
    expect(restorePlan(chain(2, [object('v1'), diff, same]), 'v2', 'b', formats)?.object).toEqual(same);
    expect(restorePlan(chain(2, [object('v1'), same, diff]), 'v2', 'b', formats)?.object).toEqual(same);
    const bigger = object('v2', { bytes: 106 });
    expect(restorePlan(chain(2, [object('v1'), bigger, diff]), 'v2', 'b', formats)?.object).toEqual(diff);
    // Fewer objects decide only between equal downloads.
    const more = object('v2', { bytes: 110 });
    expect(restorePlan(chain(2, [object('v1'), diff, more]), 'v2', 'b', formats)?.object).toEqual(diff);
    // Of two fulls of the base, the smaller (the first of equal ones).
    const small = object('v1', { key: 'k-small', bytes: 50 });
    expect(restorePlan(chain(2, [object('v1'), small, diff]), 'v2', 'b', formats)?.base?.object).toEqual(
      small,
    );
    const equal = object('v1', { key: 'k-equal' });
    expect(restorePlan(chain(2, [object('v1'), equal, diff]), 'v2', 'b', formats)?.base?.object).toEqual(
      object('v1'),
    );
    const twin = object('v2', { key: 'k-twin', bytes: 104 });
    expect(restorePlan(chain(2, [full, twin]), 'v2', 'b', formats)?.object).toEqual(full);
  });

  it('is null without a committed version, a present object, or a readable format', () => {
    expect(restorePlan(chain(1, [object('v1')]), 'v2', 'b', formats)).toBeNull();
    expect(
      restorePlan(
        volumeOf([version('v1', 1, { state: 'removing' })], { objects: [object('v1')] }),
        'v1',
        'b',
        formats,
      ),
    ).toBeNull();
    expect(restorePlan(chain(1), 'v1', 'b', formats)).toBeNull();
    expect(restorePlan(chain(1, [object('v1', { state: 'uploading' })]), 'v1', 'b', formats)).toBeNull();
    expect(restorePlan(chain(1, [object('v0')]), 'v1', 'b', formats)).toBeNull();
    expect(restorePlan(chain(1, [object('v1')]), 'v1', 'b', ['tar-zstd'])).toBeNull();
  });
});

describe('temporary bases', () => {
  const slice = sliceOf([version('v2', 2)]);

  it('beginTemporaryBase claims, refuses a second claim while it lasts, and replaces one that ended', () => {
    const begun = beginTemporaryBase(slice, 'b', 'v1', T0, T0 + 10);
    expect(begun.volume?.temporaryBases).toEqual([{ host: 'b', versionId: 'v1', until: T0 + 10 }]);
    const error = thrown(() => beginTemporaryBase(begun, 'b', 'v1', T0 + 9, T0 + 20));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(
      `Host "b" is receiving version "v1" as a temporary base already (its claim ends at ${new Date(T0 + 10).toISOString()}).`,
    );
    expect(error.details).toEqual({ versionId: 'v1', host: 'b', claimUntil: T0 + 10 });
    expect(beginTemporaryBase(begun, 'b', 'v1', T0 + 10, T0 + 20).volume?.temporaryBases).toEqual([
      { host: 'b', versionId: 'v1', until: T0 + 20 },
    ]);
    expect(beginTemporaryBase(begun, 'c', 'v1', T0, T0 + 5).volume?.temporaryBases).toEqual([
      { host: 'b', versionId: 'v1', until: T0 + 10 },
      { host: 'c', versionId: 'v1', until: T0 + 5 },
    ]);
    expect(beginTemporaryBase(begun, 'b', 'v0', T0, T0 + 5).volume?.temporaryBases).toHaveLength(2);
  });

  it('beginTemporaryBase refuses a volume without a record', () => {
    const error = thrown(() => beginTemporaryBase(sliceOf(null), 'b', 'v1', T0, T0 + 10));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('No volume "vol" in scope "s".');
    expect(error.details).toEqual({ scope: 's', name: 'vol' });
  });

  it('endTemporaryBase drops only that claim, and the field with the last one', () => {
    const two = beginTemporaryBase(beginTemporaryBase(slice, 'b', 'v1', T0, T0 + 10), 'c', 'v1', T0, T0 + 10);
    expect(endTemporaryBase(two, 'b', 'v1', T0 + 10).volume?.temporaryBases).toEqual([
      { host: 'c', versionId: 'v1', until: T0 + 10 },
    ]);
    expect(endTemporaryBase(two, 'b', 'v1', T0 + 11)).toBe(two);
    expect(endTemporaryBase(two, 'b', 'v0', T0 + 10)).toBe(two);
    const one = beginTemporaryBase(slice, 'b', 'v1', T0, T0 + 10);
    expect(endTemporaryBase(one, 'b', 'v1', T0 + 10).volume).not.toHaveProperty('temporaryBases');
    expect(endTemporaryBase(slice, 'b', 'v1', T0)).toBe(slice);
    expect(endTemporaryBase(sliceOf(null), 'b', 'v1', T0)).toEqual(sliceOf(null));
  });

  it('expiredTemporaryBases lists the host claims that ended; takeOverTemporaryBase renews only those', () => {
    const two = beginTemporaryBase(beginTemporaryBase(slice, 'b', 'v1', T0, T0 + 10), 'b', 'v0', T0, T0 + 20);
    expect(expiredTemporaryBases(two, 'b', T0 + 9)).toEqual([]);
    expect(expiredTemporaryBases(two, 'b', T0 + 10)).toEqual(['v1']);
    expect(expiredTemporaryBases(two, 'c', T0 + 30)).toEqual([]);
    expect(expiredTemporaryBases(slice, 'b', T0)).toEqual([]);
    expect(expiredTemporaryBases(sliceOf(null), 'b', T0)).toEqual([]);
    expect(takeOverTemporaryBase(two, 'b', 'v1', T0 + 9, T0 + 99)).toBeUndefined();
    expect(takeOverTemporaryBase(two, 'b', 'v1', T0 + 10, T0 + 99)?.volume?.temporaryBases).toEqual([
      { host: 'b', versionId: 'v1', until: T0 + 99 },
      { host: 'b', versionId: 'v0', until: T0 + 20 },
    ]);
    // The restore that made the old claim can no longer drop it.
    const taken = takeOverTemporaryBase(two, 'b', 'v1', T0 + 10, T0 + 99) as VolumeSlice;
    expect(endTemporaryBase(taken, 'b', 'v1', T0 + 10)).toBe(taken);
  });
});
