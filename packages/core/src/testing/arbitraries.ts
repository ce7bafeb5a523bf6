import fc from 'fast-check';
import { DAY_MS, type Policy, resolvePolicy } from '../model/policy.js';
import {
  COMMIT_MODES,
  type ForkRecord,
  type ForkState,
  type VersionRecord,
  type VolumeRecord,
  type VolumeSlice,
  volumeKeyString,
} from '../model/state.js';
import { GIB, MIN_SIZE_GB } from '../size.js';

/**
 * fast-check arbitraries for the model: valid names, sizes, versions, volumes, whole states and
 * policies. They generate *valid* data; invalid inputs have their own arbitraries.
 */

const SEGMENT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-'.split('');

/** A valid name segment (no leading `.` or `-`, never `.` or `..`). */
export const arbNameSegment: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_'.split('')),
    fc.string({ unit: fc.constantFrom(...SEGMENT_CHARS), maxLength: 12 }),
  )
  .map(([first, rest]) => first + rest);

/** A valid volume name: one to three segments joined by `/`. */
export const arbVolumeName: fc.Arbitrary<string> = fc
  .array(arbNameSegment, { minLength: 1, maxLength: 3 })
  .map((s) => s.join('/'));

/** A valid scope. */
export const arbScope: fc.Arbitrary<string> = arbNameSegment;

/** A valid engine id (`validateId`). */
export const arbId: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')),
    fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-'.split('')),
      maxLength: 20,
    }),
  )
  .map(([first, rest]) => first + rest);

/** A valid size text, `20g` up to `4096g`. */
export const arbSizeText: fc.Arbitrary<string> = fc
  .integer({ min: MIN_SIZE_GB, max: 4096 })
  .map((n) => `${n}g`);

/** Malformed or too-small size texts that `parseSize` must refuse. */
export const arbBadSizeText: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -5, max: MIN_SIZE_GB - 1 }).map((n) => `${n}g`),
  fc.integer({ min: 1, max: 100 }).map((n) => `${n}`),
  fc.integer({ min: 20, max: 100 }).map((n) => `${n}gb`),
  fc.integer({ min: 20, max: 100 }).map((n) => `${n}G`),
  fc.integer({ min: 20, max: 100 }).map((n) => `${n}.5g`),
  fc.integer({ min: 20, max: 100 }).map((n) => ` ${n}g`),
  fc.constantFrom('', 'g', '020g', '1e2g', '0x20g', '20 g', '20m', '20t'),
);

/** A host name from a small set, so locality matters. */
export const arbHost: fc.Arbitrary<string> = fc.constantFrom('host-a', 'host-b', 'host-c');

/** A point in time within a year of a fixed epoch. */
export const arbTime: fc.Arbitrary<number> = fc.integer({
  min: 1_700_000_000_000,
  max: 1_700_000_000_000 + 365 * DAY_MS,
});

/** A policy with every knob varied (retention from an hour to 30 days). */
export const arbPolicy: fc.Arbitrary<Policy> = fc
  .record({
    retentionMs: fc.integer({ min: 60 * 60 * 1000, max: 30 * DAY_MS }),
    maxStaleVersions: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 5 })),
    maxStaleMs: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 20 * DAY_MS })),
    maxForksPerVersion: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 1, max: 3 })),
    transfer: fc.boolean(),
    maxTotalBytes: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 200 * GIB })),
  })
  .map((p) => resolvePolicy(p));

/**
 * A volume with up to `maxVersions` versions (seqs 1..n, some removing), around time `now`.
 *
 * @param now - the reference time; versions are committed up to 40 days before it
 * @param maxVersions - how many versions at most
 */
export function arbVolume(now: number, maxVersions = 8): fc.Arbitrary<VolumeRecord> {
  return fc
    .record({
      scope: arbScope,
      name: arbVolumeName,
      versions: fc.array(
        fc.record({
          age: fc.integer({ min: 0, max: 40 * DAY_MS }),
          idle: fc.integer({ min: 0, max: 40 * DAY_MS }),
          usedBytes: fc.integer({ min: 0, max: 50 * GIB }),
          hosts: fc.uniqueArray(arbHost, { minLength: 1, maxLength: 3 }),
          removing: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
        }),
        { maxLength: maxVersions },
      ),
      counts: fc.record({ hit: fc.nat(50), stale: fc.nat(50), miss: fc.nat(50) }),
    })
    .map(({ scope, name, versions, counts }) => {
      const sorted = [...versions].sort((a, b) => b.age - a.age);
      const records: Record<string, VersionRecord> = {};
      sorted.forEach((v, i) => {
        const committedAt = now - v.age;
        const id = `v${i + 1}`;
        records[id] = {
          id,
          seq: i + 1,
          baseId: i === 0 ? null : `v${i}`,
          usedBytes: v.usedBytes,
          committedAt,
          lastUsedAt: Math.min(now, committedAt + Math.min(v.idle, v.age)),
          hosts: v.hosts,
          state: v.removing ? 'removing' : 'committed',
          orderedAfterSeq: null,
          leaseUntil: v.removing ? now + v.idle - 20 * DAY_MS : null,
        };
      });
      const versionIds = Object.keys(records);
      return { scope, name, seq: sorted.length, versions: records, versionIds, counts, lastUsedAt: now };
    });
}

/** Renames a volume's version ids (and base ids) so ids are unique across volumes, as real ids are. */
function withIdPrefix(volume: VolumeRecord, prefix: string): VolumeRecord {
  const rename = (id: string) => `${prefix}${id.slice(1)}`;
  const versions: Record<string, VersionRecord> = {};
  for (const v of Object.values(volume.versions)) {
    versions[rename(v.id)] = { ...v, id: rename(v.id), baseId: v.baseId === null ? null : rename(v.baseId) };
  }
  return { ...volume, versions, versionIds: volume.versionIds.map(rename) };
}

const FORK_STATES: readonly ForkState[] = [
  'creating',
  'attached',
  'committing',
  'committed',
  'abandoning',
  'abandoned',
];

/**
 * Up to three volumes' slices, with some forks on their versions, around time `now`.
 *
 * @param now - the reference time
 */
export function arbSlices(now: number): fc.Arbitrary<VolumeSlice[]> {
  return fc
    .uniqueArray(arbVolume(now), { maxLength: 3, selector: (v) => volumeKeyString(v) })
    .map((volumes) => volumes.map((volume, k) => withIdPrefix(volume, `v${k}-`)))
    .chain((volumes) => {
      const bases = volumes.flatMap((v) =>
        [null, ...Object.keys(v.versions)].map((baseId) => ({ volume: v, baseId })),
      );
      const arbFork = fc.record({
        base: fc.constantFrom(...(bases.length > 0 ? bases : [null])),
        state: fc.constantFrom(...FORK_STATES),
        host: arbHost,
        commitMode: fc.constantFrom(...COMMIT_MODES),
        leaseLeft: fc.integer({ min: -DAY_MS, max: DAY_MS }),
      });
      return fc.tuple(fc.constant(volumes), fc.array(arbFork, { maxLength: bases.length > 0 ? 6 : 0 }));
    })
    .map(([volumes, forks]) => {
      const slices = new Map<string, VolumeSlice>(
        volumes.map((volume) => [
          volumeKeyString(volume),
          { scope: volume.scope, name: volume.name, volume, forks: {} },
        ]),
      );
      forks.forEach((f, i) => {
        if (!f.base) return;
        const { volume, baseId } = f.base;
        const base = baseId ? volume.versions[baseId] : undefined;
        const record: ForkRecord = {
          id: `f${i + 1}`,
          scope: volume.scope,
          name: volume.name,
          baseId: base && base.state === 'committed' ? base.id : null,
          result: base ? 'hit' : 'miss',
          requestedBytes: 20 * GIB,
          capacityBytes: 20 * GIB + (base?.usedBytes ?? 0),
          host: f.host,
          job: `job-${i + 1}`,
          commitMode: f.commitMode,
          createdAt: now - DAY_MS,
          expiresAt: now + f.leaseLeft,
          mountPath: f.state === 'creating' ? null : `/mnt/f${i + 1}`,
          state: f.state,
          versionId: f.state === 'committing' ? `v-new-${i + 1}` : null,
          commitAfterSeq: f.state === 'committing' ? volume.seq : null,
          endedAt: f.state === 'committed' || f.state === 'abandoned' ? now - 1000 : null,
        };
        const slice = slices.get(volumeKeyString(volume)) as VolumeSlice;
        slice.forks[record.id] = record;
      });
      return [...slices.values()];
    });
}
