import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TransferFormat } from '../../src/contracts/backend.js';
import {
  beginDeleteObjects,
  beginUpload,
  completeDeleteObjects,
  completeUpload,
  hasIncrementals,
  neededObjects,
  objectLineage,
  planUpload,
  restorePlan,
} from '../../src/model/objects.js';
import type { ObjectCopy, VolumeRecord, VolumeSlice } from '../../src/model/state.js';
import { arbHost, arbVolume, propertyParameters } from '../../src/testing/index.js';

/**
 * The rules of versions in an object store (`model/objects.ts`), over generated volumes and
 * objects: a restore plan downloads at most two objects that rebuild the version; gc never
 * deletes what a restore of a committed version needs; uploads made by the plan keep at most
 * `fullEvery - 1` differentials per full, each against a full of an ancestor.
 */

const NOW = 1_750_000_000_000;
const params = propertyParameters(200);
const FORMATS: readonly TransferFormat[] = ['btrfs-send', 'zfs-send', 'tar-zstd'];
const arbFormat = fc.constantFrom(...FORMATS);

/** A volume (a chain of versions v1 ← v2 ← …) with objects of some of them, in every state. */
const arbVolumeWithObjects: fc.Arbitrary<VolumeRecord> = arbVolume(NOW, 6).chain((volume) => {
  const ids = Object.keys(volume.versions);
  // Objects may also be of versions whose records are gone (`v0`, `v9`).
  const versionIds = [...ids, 'v0', 'v9'];
  const arbObject = fc.record({
    versionId: fc.constantFrom(...versionIds),
    base: fc.option(fc.constantFrom(...versionIds), { nil: null }),
    format: arbFormat,
    bytes: fc.nat(1000),
    state: fc.constantFrom('present', 'present', 'present', 'uploading', 'deleting'),
    lease: fc.integer({ min: -10, max: 10 }),
  });
  return fc.array(arbObject, { maxLength: 10 }).map((drawn) => {
    const objects: ObjectCopy[] = drawn.map((o, i) => ({
      key: `k${i}`,
      versionId: o.versionId,
      baseId: o.base !== o.versionId && hasIncrementals(o.format) ? o.base : null,
      format: o.format,
      bytes: o.bytes,
      sha256: 'ab',
      state: o.state as ObjectCopy['state'],
      ...(o.state === 'uploading' ? { leaseUntil: NOW + o.lease } : {}),
    }));
    return objects.length > 0 ? { ...volume, objects } : volume;
  });
});

const arbFormats = fc.uniqueArray(arbFormat, { minLength: 1, maxLength: 3 });

const committed = (volume: VolumeRecord, id: string) => volume.versions[id]?.state === 'committed';
const holds = (volume: VolumeRecord, id: string, host: string) =>
  committed(volume, id) && (volume.versions[id]?.hosts.includes(host) ?? false);

/** Every way to restore `versionId` from present objects, by brute force: [downloads, bytes]. */
function allRestores(
  volume: VolumeRecord,
  versionId: string,
  host: string,
  formats: readonly TransferFormat[],
) {
  const present = (volume.objects ?? []).filter((o) => o.state === 'present' && formats.includes(o.format));
  const ways: { keys: string[]; bytes: number }[] = [];
  if (!committed(volume, versionId)) return ways;
  for (const o of present.filter((p) => p.versionId === versionId)) {
    if (o.baseId === null || holds(volume, o.baseId, host)) ways.push({ keys: [o.key], bytes: o.bytes });
    else
      for (const full of present.filter(
        (p) => p.versionId === o.baseId && p.baseId === null && p.format === o.format,
      ))
        ways.push({ keys: [full.key, o.key], bytes: full.bytes + o.bytes });
  }
  return ways;
}

const sliceOfVolume = (volume: VolumeRecord): VolumeSlice => ({
  scope: volume.scope,
  name: volume.name,
  volume,
  forks: {},
});

describe('versions in an object store', () => {
  it('a restore plan is one of the cheapest ways to rebuild the version, of at most two objects', () => {
    fc.assert(
      fc.property(arbVolumeWithObjects, arbHost, arbFormats, fc.nat(8), (volume, host, formats, pick) => {
        const ids = [...Object.keys(volume.versions), 'v0'];
        const versionId = ids[pick % ids.length] as string;
        const plan = restorePlan(volume, versionId, host, formats);
        const ways = allRestores(volume, versionId, host, formats);
        if (ways.length === 0) {
          expect(plan).toBeNull();
          return;
        }
        expect(plan).not.toBeNull();
        if (!plan) return;
        const keys = plan.base ? [plan.base.object.key, plan.object.key] : [plan.object.key];
        expect(ways).toContainEqual({ keys, bytes: plan.bytes });
        expect(plan.bytes).toBe(Math.min(...ways.map((w) => w.bytes)));
        expect(plan.object.versionId).toBe(versionId);
        if (plan.base) {
          expect(plan.base.object.versionId).toBe(plan.object.baseId);
          expect(plan.base.temporary).toBe(!committed(volume, plan.base.object.versionId));
        }
      }),
      params,
    );
  });

  it('gc deletes only unneeded objects, and every committed version restorable before still is', () => {
    fc.assert(
      fc.property(arbVolumeWithObjects, arbHost, arbFormats, (volume, host, formats) => {
        const slice = sliceOfVolume(volume);
        const needed = neededObjects(volume, NOW);
        const begun = beginDeleteObjects(slice, NOW);
        for (const key of begun.keys) expect(needed.has(key)).toBe(false);
        const after = completeDeleteObjects(begun.slice, begun.keys).volume as VolumeRecord;
        // Everything not deleted is unchanged, in order.
        expect(after.objects ?? []).toEqual(
          (volume.objects ?? []).filter((o) => !begun.keys.includes(o.key)),
        );
        for (const id of Object.keys(volume.versions)) {
          const before = restorePlan(volume, id, host, formats);
          const now = restorePlan(after, id, host, formats);
          expect(now).toEqual(before);
        }
        // Nothing more to delete afterwards.
        expect(beginDeleteObjects(sliceOfVolume(after), NOW).keys).toEqual([]);
      }),
      params,
    );
  });

  it('uploading a lineage by the plan keeps at most fullEvery - 1 differentials per full, each against an ancestor full', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 6 }),
        arbFormat,
        fc.array(fc.nat(200), { minLength: 12, maxLength: 12 }),
        (length, fullEvery, format, sizes) => {
          const versions = Object.fromEntries(
            Array.from({ length }, (_, i) => [
              `v${i + 1}`,
              {
                id: `v${i + 1}`,
                seq: i + 1,
                baseId: i === 0 ? null : `v${i}`,
                usedBytes: 1,
                committedAt: NOW,
                lastUsedAt: NOW,
                hosts: ['h'],
                state: 'committed' as const,
                orderedAfterSeq: null,
                leaseUntil: null,
              },
            ]),
          );
          let slice = sliceOfVolume({
            scope: 's',
            name: 'n',
            seq: length,
            versions,
            versionIds: Object.keys(versions),
            counts: { hit: 0, stale: 0, miss: 0 },
            lastUsedAt: NOW,
          });
          for (let i = 1; i <= length; i++) {
            const versionId = `v${i}`;
            const plan = planUpload(slice.volume as VolumeRecord, versionId, format, fullEvery);
            expect(plan).not.toBeNull();
            if (!plan) return;
            const key = `k${i}`;
            slice = beginUpload(slice, { key, versionId, format, baseId: plan.baseId }, NOW + 1);
            const bytes = plan.baseId === null ? 100 + (sizes[i - 1] ?? 0) : (sizes[i - 1] ?? 0);
            slice = completeUpload(slice, key, { baseId: plan.baseId, bytes, sha256: 'ab' }).slice;
            expect(planUpload(slice.volume as VolumeRecord, versionId, format, fullEvery)).toBeNull();
          }
          const volume = slice.volume as VolumeRecord;
          const objects = volume.objects ?? [];
          expect(objects).toHaveLength(length);
          expect(objects[0]?.baseId).toBeNull();
          for (const o of objects) {
            if (o.baseId === null) continue;
            expect(hasIncrementals(format)).toBe(true);
            expect(objectLineage(volume, o.versionId)).toContain(o.baseId);
            const full = objects.find((f) => f.versionId === o.baseId) as ObjectCopy;
            expect(full.baseId).toBeNull();
            expect(objects.filter((d) => d.baseId === o.baseId).length).toBeLessThanOrEqual(fullEvery - 1);
          }
          // Every version restores from at most two objects on a host that holds none.
          for (const id of Object.keys(versions))
            expect(restorePlan(volume, id, 'other', [format])).not.toBeNull();
        },
      ),
      params,
    );
  });
});
