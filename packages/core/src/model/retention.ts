import { isBorrowed } from './fallback.js';
import type { Policy } from './policy.js';
import { headOf, isExpired } from './selection.js';
import type { VersionRecord, VolumeSlice } from './state.js';
import { isLive } from './state.js';
import type { VersionRef } from './transitions.js';
import { dependents } from './transitions.js';

/** Why {@link planRetention} picked a version. */
export type RemovalReason = 'expired' | 'superseded' | 'capacity';

/** A version {@link planRetention} would remove, and why. */
export interface PlannedRemoval extends VersionRef {
  /**
   * `expired` (idle past retention), `superseded` (`maxVersionsPerVolume` or more newer
   * committed versions in its volume) or `capacity` (evicted to get under `maxTotalBytes`).
   */
  reason: RemovalReason;
}

/** A committed version a volume keeps, as {@link volumeRetention} found it. */
interface KeptVersion {
  version: VersionRecord;
  /** A live fork depends on it, or a fork of another volume is being made from it. */
  protected: boolean;
}

/**
 * One volume's share of retention: its committed versions that are expired or superseded (and
 * no live fork depends on), and the ones it keeps. Walks the versions newest first (head order).
 */
function volumeRetention(
  slice: VolumeSlice,
  now: number,
  policy: Policy,
): { removals: PlannedRemoval[]; kept: KeptVersion[] } {
  const removals: PlannedRemoval[] = [];
  const kept: KeptVersion[] = [];
  const volume = slice.volume;
  if (!volume) return { removals, kept };
  const protectedIds = new Set<string>();
  for (const fork of Object.values(slice.forks))
    if (fork.baseId && isLive(fork)) protectedIds.add(fork.baseId);
  for (const version of Object.values(volume.versions))
    if (isBorrowed(version, now)) protectedIds.add(version.id);
  let rank = 0;
  // Stryker disable next-line ArithmeticOperator: starting past the end only visits ids without a record, which are skipped
  for (let i = volume.versionIds.length - 1; i >= 0; i--) {
    const version = volume.versions[volume.versionIds[i] as string];
    // Stryker disable next-line OptionalChaining: only the indexes past the end (the mutant above) have no record
    if (version?.state !== 'committed') continue;
    rank += 1;
    const ref = { scope: volume.scope, name: volume.name, versionId: version.id };
    if (protectedIds.has(version.id)) kept.push({ version, protected: true });
    else if (isExpired(version, now, policy.retentionMs)) removals.push({ ...ref, reason: 'expired' });
    else if (rank > policy.maxVersionsPerVolume) removals.push({ ...ref, reason: 'superseded' });
    else kept.push({ version, protected: false });
  }
  return { removals, kept };
}

/**
 * What retention removes from one volume on its own: its expired and superseded versions that
 * no live fork depends on (`maxTotalBytes` needs every volume; see {@link planRetention}). The
 * engine runs it after each commit, so a volume never holds more than `maxVersionsPerVolume`
 * idle versions for long.
 *
 * @param slice - the volume's slice
 * @param now - current time (ms)
 * @param policy - retention settings
 */
export function planVolumeRetention(slice: VolumeSlice, now: number, policy: Policy): PlannedRemoval[] {
  return volumeRetention(slice, now, policy).removals;
}

interface Candidate {
  ref: VersionRef;
  usedBytes: number;
  lastUsedAt: number;
  seq: number;
  isHead: boolean;
}

/** Collects slices one at a time and then plans; see {@link planRetention}. */
export interface RetentionPlanner {
  /** Takes one volume's slice into account. */
  add(slice: VolumeSlice): void;
  /** The removals, once every slice was added. */
  plan(): PlannedRemoval[];
}

/**
 * A {@link planRetention} that takes slices one at a time (a store's pages), keeping only a
 * small summary of each version that may be evicted.
 *
 * @param now - current time (ms)
 * @param policy - retention settings
 */
export function retentionPlanner(now: number, policy: Policy): RetentionPlanner {
  const removals: PlannedRemoval[] = [];
  const kept: Candidate[] = [];
  let total = 0;
  return {
    add(slice) {
      const volume = volumeRetention(slice, now, policy);
      removals.push(...volume.removals);
      const head = headOf(slice.volume ?? undefined);
      for (const { version, protected: isProtected } of volume.kept) {
        total += version.usedBytes;
        if (isProtected) continue;
        kept.push({
          ref: { scope: slice.scope, name: slice.name, versionId: version.id },
          usedBytes: version.usedBytes,
          lastUsedAt: version.lastUsedAt,
          seq: version.seq,
          isHead: version === head,
        });
      }
    },
    plan() {
      const plan = [...removals];
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; within the budget the loop below breaks before evicting anything
      if (total <= policy.maxTotalBytes) return plan;
      let left = total;
      const order = [...kept].sort(
        (a, b) => Number(a.isHead) - Number(b.isHead) || a.lastUsedAt - b.lastUsedAt || a.seq - b.seq,
      );
      for (const candidate of order) {
        if (left <= policy.maxTotalBytes) break;
        plan.push({ ...candidate.ref, reason: 'capacity' });
        left -= candidate.usedBytes;
      }
      return plan;
    },
  };
}

/**
 * Decides which versions to remove: every version idle past `policy.retentionMs`, every version
 * with `policy.maxVersionsPerVolume` or more newer committed versions in its volume, then, while
 * the versions left use more than `policy.maxTotalBytes`, the least recently used ones (versions
 * that are not a head go before heads). A version that a live fork depends on is never picked,
 * nor one already being removed.
 *
 * @param slices - every volume's slice
 * @param now - current time (ms)
 * @param policy - retention settings
 */
export function planRetention(slices: Iterable<VolumeSlice>, now: number, policy: Policy): PlannedRemoval[] {
  const planner = retentionPlanner(now, policy);
  for (const slice of slices) planner.add(slice);
  return planner.plan();
}

/**
 * Tells whether a version may be removed now without taking it from under a live fork.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 */
export function isRemovable(slice: VolumeSlice, versionId: string): boolean {
  return dependents(slice, versionId).length === 0;
}
