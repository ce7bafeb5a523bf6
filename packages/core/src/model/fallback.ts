import type { Policy } from './policy.js';
import { selectParent } from './selection.js';
import type { ForkSource, VersionRecord, VolumeRecord, VolumeSlice } from './state.js';

/**
 * Fallback volumes (like actions/cache `restore-keys`): when a volume has nothing usable, an
 * attach forks the best version of another volume instead. The fallback volume's version is
 * **borrowed** while the fork is made: a borrow is an entry in the version's record (in the
 * fallback volume's own slice, so one transaction touches one volume) that keeps retention and
 * removal away from it until the fork exists or the borrow's lease ends. Once made, a fork no
 * longer needs its base (the `Backend` contract: `removeVersion` leaves forks made from a
 * version intact), so the borrow ends with the attach.
 */

/** What {@link borrowFallback} needs. */
export interface BorrowInput {
  /** The fork being made (of the requested volume). */
  forkId: string;
  /** The requesting host. */
  host: string;
  /** Current time (ms). */
  now: number;
  /** When the borrow ends unless released first: at most the fork's lease end. */
  until: number;
  /** Selection policy (the same as for the requested volume). */
  policy: Policy;
}

/**
 * Tells whether a version is borrowed now: a fork of another volume is being made from it.
 *
 * @param version - the version
 * @param now - current time (ms)
 */
export function isBorrowed(version: VersionRecord, now: number): boolean {
  const borrows = version.borrows;
  if (!borrows) return false;
  for (const until of Object.values(borrows)) if (until > now) return true;
  return false;
}

/**
 * Selects the version a fallback volume would give (the same rules as for any attach: head,
 * else a usable stale version) and borrows it for a fork of another volume. The volume's
 * attach counts and head do not change; the version is marked used. Borrows that ended are
 * dropped on the way, so a version's record never collects them.
 *
 * @param slice - the fallback volume's slice
 * @param input - the fork, host, time, borrow end and policy
 * @returns the new slice and the source, or the slice unchanged and `null` when the fallback
 *   volume has nothing usable either
 */
export function borrowFallback(
  slice: VolumeSlice,
  input: BorrowInput,
): { slice: VolumeSlice; source: ForkSource | null } {
  const selection = selectParent(
    slice.volume ?? undefined,
    Object.values(slice.forks),
    { host: input.host, now: input.now },
    input.policy,
  );
  const volume = slice.volume;
  const version = selection.version;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: a miss has no version, and a version implies a volume; the three checks narrow the types
  if (selection.result === 'miss' || !volume || !version) return { slice, source: null };
  const borrows = { ...liveBorrows(version, input.now), [input.forkId]: input.until };
  const next: VersionRecord = { ...version, lastUsedAt: input.now, borrows };
  return {
    slice: { ...slice, volume: { ...volume, versions: { ...volume.versions, [version.id]: next } } },
    source: {
      scope: slice.scope,
      name: slice.name,
      versionId: version.id,
      result: selection.result,
      usedBytes: version.usedBytes,
    },
  };
}

/**
 * Extends a borrow while its fork is still being made (it never shortens it). A borrow that is
 * gone (released, or the version removed) stays gone.
 *
 * @param slice - the fallback volume's slice
 * @param versionId - the borrowed version
 * @param forkId - the fork it is borrowed for
 * @param until - the new borrow end
 */
export function renewBorrow(
  slice: VolumeSlice,
  versionId: string,
  forkId: string,
  until: number,
): VolumeSlice {
  const volume = slice.volume;
  const version = volume?.versions[versionId];
  const current = version?.borrows?.[forkId];
  if (current === undefined || current >= until) return slice;
  // A borrow was found, so the version and its volume exist.
  return withBorrows(slice, volume as VolumeRecord, version as VersionRecord, {
    ...version?.borrows,
    [forkId]: until,
  });
}

/**
 * Ends a borrow (the fork exists, or its attach failed), and drops borrows that ended.
 * Idempotent; a version that is gone is left gone.
 *
 * @param slice - the fallback volume's slice
 * @param versionId - the borrowed version
 * @param forkId - the fork it was borrowed for
 * @param now - current time (ms)
 */
export function releaseBorrow(
  slice: VolumeSlice,
  versionId: string,
  forkId: string,
  now: number,
): VolumeSlice {
  const version = slice.volume?.versions[versionId];
  if (!slice.volume || !version?.borrows) return slice;
  const { [forkId]: _released, ...rest } = liveBorrows(version, now);
  return withBorrows(slice, slice.volume, version, rest);
}

function liveBorrows(version: VersionRecord, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [forkId, until] of Object.entries(version.borrows ?? {})) if (until > now) out[forkId] = until;
  return out;
}

/** The slice with the version's borrows replaced (the field dropped when there are none). */
function withBorrows(
  slice: VolumeSlice,
  volume: VolumeRecord,
  version: VersionRecord,
  borrows: Record<string, number>,
): VolumeSlice {
  const { borrows: _old, ...rest } = version;
  const next: VersionRecord = Object.keys(borrows).length > 0 ? { ...rest, borrows } : rest;
  return { ...slice, volume: { ...volume, versions: { ...volume.versions, [version.id]: next } } };
}
