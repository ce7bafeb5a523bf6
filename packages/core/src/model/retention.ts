import type { Policy } from './policy.js';
import { headOf, isExpired } from './selection.js';
import type { VolumeSlice } from './state.js';
import { isLive } from './state.js';
import type { VersionRef } from './transitions.js';
import { dependents } from './transitions.js';

/** Why {@link planRetention} picked a version. */
export type RemovalReason = 'expired' | 'capacity';

/** A version {@link planRetention} would remove, and why. */
export interface PlannedRemoval extends VersionRef {
  /** `expired` (idle past retention) or `capacity` (evicted to get under `maxTotalBytes`). */
  reason: RemovalReason;
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
  const expired: PlannedRemoval[] = [];
  const kept: Candidate[] = [];
  let total = 0;
  return {
    add(slice) {
      const volume = slice.volume;
      if (!volume) return;
      const protectedIds = new Set<string>();
      for (const fork of Object.values(slice.forks))
        if (fork.baseId && isLive(fork)) protectedIds.add(fork.baseId);
      const head = headOf(volume);
      for (const version of Object.values(volume.versions)) {
        if (version.state !== 'committed') continue;
        const ref = { scope: volume.scope, name: volume.name, versionId: version.id };
        if (protectedIds.has(version.id)) {
          total += version.usedBytes;
        } else if (isExpired(version, now, policy.retentionMs)) {
          expired.push({ ...ref, reason: 'expired' });
        } else {
          total += version.usedBytes;
          kept.push({
            ref,
            usedBytes: version.usedBytes,
            lastUsedAt: version.lastUsedAt,
            seq: version.seq,
            isHead: version === head,
          });
        }
      }
    },
    plan() {
      const plan = [...expired];
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
 * Decides which versions to remove: every version idle past `policy.retentionMs`, then, while
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
