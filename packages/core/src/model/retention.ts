import type { Policy } from './policy.js';
import { headOf, isExpired } from './selection.js';
import type { ForkRecord, State, VersionRecord } from './state.js';
import type { VersionRef } from './transitions.js';
import { dependents } from './transitions.js';

/** Why {@link planRetention} picked a version. */
export type RemovalReason = 'expired' | 'capacity';

/** A version {@link planRetention} would remove, and why. */
export interface PlannedRemoval extends VersionRef {
  /** `expired` (idle past retention) or `capacity` (evicted to get under `maxTotalBytes`). */
  reason: RemovalReason;
}

/**
 * Decides which versions to remove: every version idle past `policy.retentionMs`, then, while
 * the versions left use more than `policy.maxTotalBytes`, the least recently used ones (versions
 * that are not a head go before heads). A version that a live fork depends on is never picked,
 * nor one already being removed.
 *
 * @param state - the state
 * @param now - current time (ms)
 * @param policy - retention settings
 */
export function planRetention(state: State, now: number, policy: Policy): PlannedRemoval[] {
  const protectedIds = new Set<string>();
  for (const fork of Object.values(state.forks))
    if (fork.baseId && fork.endedAt === null) protectedIds.add(fork.baseId);

  const plan: PlannedRemoval[] = [];
  const kept: { version: VersionRecord; ref: VersionRef; isHead: boolean }[] = [];
  let total = 0;
  for (const volume of Object.values(state.volumes)) {
    const head = headOf(volume);
    for (const version of Object.values(volume.versions)) {
      if (version.state !== 'committed') continue;
      const ref = { scope: volume.scope, name: volume.name, versionId: version.id };
      if (protectedIds.has(version.id)) {
        total += version.usedBytes;
      } else if (isExpired(version, now, policy.retentionMs)) {
        plan.push({ ...ref, reason: 'expired' });
      } else {
        total += version.usedBytes;
        kept.push({ version, ref, isHead: version === head });
      }
    }
  }
  if (total > policy.maxTotalBytes) {
    kept.sort(
      (a, b) =>
        Number(a.isHead) - Number(b.isHead) ||
        a.version.lastUsedAt - b.version.lastUsedAt ||
        a.version.seq - b.version.seq,
    );
    for (const { version, ref } of kept) {
      if (total <= policy.maxTotalBytes) break;
      plan.push({ ...ref, reason: 'capacity' });
      total -= version.usedBytes;
    }
  }
  return plan;
}

/**
 * Forks whose lease ran out while attached: `gc()` abandons them.
 *
 * @param state - the state
 * @param now - current time (ms)
 */
export function expiredForks(state: State, now: number): ForkRecord[] {
  return Object.values(state.forks).filter((fork) => fork.state === 'attached' && fork.expiresAt <= now);
}

/**
 * Tells whether a version may be removed now without taking it from under a live fork.
 *
 * @param state - the state
 * @param versionId - the version
 */
export function isRemovable(state: State, versionId: string): boolean {
  return dependents(state, versionId).length === 0;
}
