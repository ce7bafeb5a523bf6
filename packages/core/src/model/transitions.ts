import { CacheVolumeError } from '../errors.js';
import { forkCapacity } from '../size.js';
import { isBorrowed } from './fallback.js';
import { countAttach } from './history.js';
import type { Policy } from './policy.js';
import { isIntent } from './schedule.js';
import { type Selection, selectParent } from './selection.js';
import type {
  CommitMode,
  ForkLink,
  ForkRecord,
  ForkSource,
  ForkState,
  VersionRecord,
  VolumeKey,
  VolumeRecord,
  VolumeSlice,
} from './state.js';
import { compareVersionOrder, isLive } from './state.js';

/**
 * State transitions on one volume's {@link VolumeSlice}. Each takes a slice and returns a new one
 * (the input is never changed), so a store can apply it inside an atomic read-modify-write.
 * Intents (`creating`, `committing`, `abandoning`, `removing`) are written before the backend
 * step; the `complete*` transitions after it.
 */

/** What {@link beginAttach} needs. */
export interface AttachInput {
  /** The new fork's id (made by the engine). */
  forkId: string;
  /** The requesting host. */
  host: string;
  /** The job asking. */
  job: string;
  /** Requested size in bytes. */
  requestedBytes: number;
  /** What to do on finish. */
  commitMode: CommitMode;
  /** Lease length in ms. */
  leaseMs: number;
  /** Current time. */
  now: number;
  /** Selection and retention policy. */
  policy: Policy;
  /**
   * A fallback volume's version borrowed for this fork (see `borrowFallback`): used only when
   * the volume itself has nothing usable (a `miss`); it becomes the fork's `source`.
   */
  fallback?: ForkSource | null;
}

function fail(
  code: 'NOT_FOUND' | 'CONFLICT' | 'ALREADY_EXISTS',
  message: string,
  details: Record<string, unknown>,
): never {
  throw new CacheVolumeError(code, message, { details });
}

/**
 * Finds a fork of the slice or throws `NOT_FOUND`.
 *
 * @param slice - the volume's slice
 * @param forkId - the fork's id
 */
export function getFork(slice: VolumeSlice, forkId: string): ForkRecord {
  const fork = slice.forks[forkId];
  if (!fork) {
    fail('NOT_FOUND', `No fork with id "${forkId}": it was never attached here, or gc() pruned it.`, {
      forkId,
    });
  }
  return fork;
}

function withFork(slice: VolumeSlice, fork: ForkRecord): VolumeSlice {
  return { ...slice, forks: { ...slice.forks, [fork.id]: fork } };
}

function withVolume(slice: VolumeSlice, volume: VolumeRecord | null): VolumeSlice {
  return { ...slice, volume };
}

function withVersion(volume: VolumeRecord, version: VersionRecord): VolumeRecord {
  return { ...volume, versions: { ...volume.versions, [version.id]: version } };
}

function newVolume(key: VolumeKey, now: number): VolumeRecord {
  return {
    scope: key.scope,
    name: key.name,
    seq: 0,
    versions: {},
    versionIds: [],
    counts: { hit: 0, stale: 0, miss: 0 },
    lastUsedAt: now,
  };
}

/**
 * Starts an attach: selects a parent, records the fork as `creating` (the intent), counts the
 * hit/stale/miss, and marks the parent as used (so a version in daily use does not expire).
 *
 * @param slice - the volume's slice
 * @param input - what is attached, by whom, when
 * @returns the new slice, the fork record, and the selection that was made
 */
export function beginAttach(
  slice: VolumeSlice,
  input: AttachInput,
): { slice: VolumeSlice; fork: ForkRecord; selection: Selection } {
  if (slice.forks[input.forkId])
    fail('ALREADY_EXISTS', `Fork id "${input.forkId}" is already in use.`, { forkId: input.forkId });
  const selection = selectParent(
    slice.volume ?? undefined,
    Object.values(slice.forks),
    { host: input.host, now: input.now },
    input.policy,
  );
  let volume = slice.volume ?? newVolume(slice, input.now);
  volume = {
    ...volume,
    counts: { ...volume.counts, [selection.result]: volume.counts[selection.result] + 1 },
    hourly: countAttach(volume.hourly, input.now, selection.result),
    lastUsedAt: input.now,
  };
  const base = selection.version ? volume.versions[selection.version.id] : undefined;
  if (base) volume = withVersion(volume, { ...base, lastUsedAt: input.now });
  const source = selection.result === 'miss' ? (input.fallback ?? undefined) : undefined;
  const fork: ForkRecord = {
    id: input.forkId,
    scope: slice.scope,
    name: slice.name,
    baseId: base?.id ?? null,
    result: selection.result,
    requestedBytes: input.requestedBytes,
    capacityBytes: forkCapacity(input.requestedBytes, base?.usedBytes ?? source?.usedBytes),
    host: input.host,
    job: input.job,
    commitMode: input.commitMode,
    createdAt: input.now,
    expiresAt: input.now + input.leaseMs,
    mountPath: null,
    state: 'creating',
    versionId: null,
    commitAfterSeq: null,
    endedAt: null,
    ...(source ? { source: { ...source } } : {}),
  };
  return { slice: withFork(withVolume(slice, volume), fork), fork, selection };
}

function expectState(fork: ForkRecord, allowed: ForkState[], action: string): void {
  if (allowed.includes(fork.state)) return;
  const why: Record<ForkState, string> = {
    creating: 'it is still being created',
    attached: 'it is attached',
    committing: 'it is already being committed',
    committed: 'it was already committed',
    abandoning: 'it is being abandoned',
    abandoned: 'it was abandoned',
  };
  fail('CONFLICT', `Cannot ${action} fork "${fork.id}": ${why[fork.state]}. Attach a new fork instead.`, {
    forkId: fork.id,
    state: fork.state,
  });
}

/**
 * Records that the backend made the fork: `creating` → `attached`.
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param mountPath - where the backend mounted it
 */
export function completeAttach(slice: VolumeSlice, forkId: string, mountPath: string): VolumeSlice {
  const fork = getFork(slice, forkId);
  expectState(fork, ['creating'], 'finish attaching');
  return withFork(slice, { ...fork, state: 'attached', mountPath });
}

/**
 * Renews a fork's lease (it never shortens it): an attached fork's (heartbeats), or a fork
 * being made's (while a long copy runs, so that recovery does not take it for interrupted).
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param expiresAt - the new lease end
 */
export function renewLease(slice: VolumeSlice, forkId: string, expiresAt: number): VolumeSlice {
  const fork = getFork(slice, forkId);
  expectState(fork, ['attached', 'creating'], 'renew the lease of');
  if (expiresAt <= fork.expiresAt) return slice;
  return withFork(slice, { ...fork, expiresAt });
}

/**
 * Records the cache paths linked to an attached fork (replacing what was recorded); an empty
 * list clears the record.
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param links - the links, in the order they were made
 * @throws `CONFLICT` unless the fork is attached; `NOT_FOUND` for an unknown fork
 */
export function recordLinks(slice: VolumeSlice, forkId: string, links: readonly ForkLink[]): VolumeSlice {
  const fork = getFork(slice, forkId);
  expectState(fork, ['attached'], 'link');
  const { links: _old, ...rest } = fork;
  return withFork(slice, links.length > 0 ? { ...rest, links: links.map((link) => ({ ...link })) } : rest);
}

/**
 * Starts a commit: `attached` → `committing`, recording the version id the commit will create
 * and the volume's `seq` at this moment (see {@link completeCommit}).
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param versionId - the new version's id (made by the engine)
 * @param expiresAt - lease end for the commit itself
 * @throws `CONFLICT` for a double commit or a commit after abandon; `NOT_FOUND` for unknown ids
 */
export function beginCommit(
  slice: VolumeSlice,
  forkId: string,
  versionId: string,
  expiresAt: number,
): VolumeSlice {
  const fork = getFork(slice, forkId);
  expectState(fork, ['attached'], 'commit');
  return withFork(slice, {
    ...fork,
    state: 'committing',
    versionId,
    commitAfterSeq: slice.volume?.seq ?? 0,
    expiresAt: Math.max(fork.expiresAt, expiresAt),
  });
}

/** Options of {@link completeCommit}. */
export interface CompleteCommitOptions {
  /**
   * The commit is being completed by recovery (`reconcile`, `gc`), not by the job that began it.
   * Then it becomes head only if no other commit of the volume finished after it began;
   * otherwise it is placed right below those newer commits.
   * @defaultValue false
   */
  repaired?: boolean;
  /**
   * `usedBytes` is an estimate (see {@link VersionRecord.usedBytesEstimated}).
   * @defaultValue false
   */
  estimated?: boolean;
}

/**
 * Finishes a commit: the fork becomes a version and the fork is `committed`. A commit finished
 * by its job becomes the head ("last write" wins, by order of completion). A commit finished by
 * recovery becomes the head only if no other commit finished after it began; otherwise it is
 * ordered below every commit that did (see {@link VersionRecord.orderedAfterSeq}).
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param usedBytes - bytes in use, as the backend measured
 * @param now - completion time
 * @param options - whether recovery is completing it
 * @returns the new slice and the version record
 */
export function completeCommit(
  slice: VolumeSlice,
  forkId: string,
  usedBytes: number,
  now: number,
  options: CompleteCommitOptions = {},
): { slice: VolumeSlice; version: VersionRecord } {
  const fork = getFork(slice, forkId);
  expectState(fork, ['committing'], 'finish committing');
  const volume = slice.volume ?? newVolume(slice, now);
  const began = fork.commitAfterSeq ?? volume.seq;
  const superseded = options.repaired === true && volume.seq > began;
  const version: VersionRecord = {
    id: fork.versionId as string,
    seq: volume.seq + 1,
    baseId: fork.baseId,
    usedBytes,
    committedAt: now,
    lastUsedAt: now,
    hosts: [fork.host],
    state: 'committed',
    orderedAfterSeq: superseded ? began : null,
    leaseUntil: null,
    ...(options.estimated === true && { usedBytesEstimated: true }),
  };
  const versions = { ...volume.versions, [version.id]: version };
  let versionIds = [...volume.versionIds, version.id];
  // Stryker disable next-line ConditionalExpression: a commit that is not superseded orders after every version, so the loop would not move it
  if (superseded) {
    // Insert it before the first version it sorts below (few: only those newer than `began`).
    let at = versionIds.length - 1;
    while (
      at > 0 &&
      // Stryker disable next-line EqualityOperator: two versions never order equal (their seqs differ)
      compareVersionOrder(version, versions[versionIds[at - 1] as string] as VersionRecord) < 0
    )
      at--;
    versionIds = [...volume.versionIds.slice(0, at), version.id, ...volume.versionIds.slice(at)];
  }
  const nextVolume: VolumeRecord = { ...volume, seq: version.seq, lastUsedAt: now, versions, versionIds };
  const next = withFork(withVolume(slice, nextVolume), { ...fork, state: 'committed', endedAt: now });
  return { slice: next, version };
}

/**
 * Records a measured size for a version whose committed figure was an estimate (see
 * {@link VersionRecord.usedBytesEstimated}). A version that is gone, being removed or already
 * measured is left as it is, so a late or repeated measurement changes nothing.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param usedBytes - bytes in use, as the backend measured
 */
export function recordMeasuredUsage(slice: VolumeSlice, versionId: string, usedBytes: number): VolumeSlice {
  const volume = slice.volume;
  const version = volume?.versions[versionId];
  if (!volume || version?.usedBytesEstimated !== true || version.state !== 'committed') return slice;
  const { usedBytesEstimated: _, ...measured } = version;
  return withVolume(slice, {
    ...volume,
    versions: { ...volume.versions, [versionId]: { ...measured, usedBytes } },
  });
}

/**
 * Starts an abandon: `creating`, `attached` or `committing` → `abandoning`. Abandoning an
 * abandoned or abandoning fork changes nothing.
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param expiresAt - lease end for the abandon itself (it never shortens the lease)
 * @throws `CONFLICT` when the fork was committed
 */
export function beginAbandon(slice: VolumeSlice, forkId: string, expiresAt = 0): VolumeSlice {
  const fork = getFork(slice, forkId);
  if (fork.state === 'abandoned' || fork.state === 'abandoning') return slice;
  expectState(fork, ['creating', 'attached', 'committing'], 'abandon');
  return withFork(slice, {
    ...fork,
    state: 'abandoning',
    versionId: null,
    commitAfterSeq: null,
    expiresAt: Math.max(fork.expiresAt, expiresAt),
  });
}

/**
 * Finishes an abandon: the fork is `abandoned`. No version or head changes.
 *
 * @param slice - the volume's slice
 * @param forkId - the fork
 * @param now - completion time
 */
export function completeAbandon(slice: VolumeSlice, forkId: string, now: number): VolumeSlice {
  const fork = getFork(slice, forkId);
  if (fork.state === 'abandoned') return slice;
  expectState(fork, ['abandoning'], 'finish abandoning');
  return withFork(slice, { ...fork, state: 'abandoned', endedAt: now });
}

/** A version together with the volume it belongs to. */
export interface VersionRef extends VolumeKey {
  /** The version's id. */
  versionId: string;
}

/**
 * The live forks that depend on a version (forked from it, not yet ended).
 *
 * @param slice - the version's volume
 * @param versionId - the version
 */
export function dependents(slice: VolumeSlice, versionId: string): ForkRecord[] {
  return Object.values(slice.forks).filter((fork) => fork.baseId === versionId && isLive(fork));
}

/**
 * Starts removing a version: it stops being selectable at once (`removing`), and the removal
 * holds a lease until `leaseUntil`.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param leaseUntil - when the removal's lease ends
 * @param lost - its data is gone: remove the record even while live forks depend on it (they
 *   were made before; nothing of the version is left to keep for them)
 * @param now - current time (ms), to tell borrows that ended from live ones; when omitted,
 *   every recorded borrow counts
 * @throws `CONFLICT` while a live fork depends on it, or a fork of another volume is being
 *   made from it (a borrow, see `borrowFallback`), unless `lost`; `NOT_FOUND` when it does not
 *   exist
 */
export function beginRemoveVersion(
  slice: VolumeSlice,
  versionId: string,
  leaseUntil: number,
  lost = false,
  now = Number.NEGATIVE_INFINITY,
): VolumeSlice {
  const volume = slice.volume;
  const version = volume?.versions[versionId];
  if (!volume || !version) {
    fail('NOT_FOUND', `No version "${versionId}" in volume "${slice.name}" (scope "${slice.scope}").`, {
      scope: slice.scope,
      name: slice.name,
      versionId,
    });
  }
  if (version.state === 'removing') return slice;
  const users = lost ? [] : dependents(slice, versionId);
  if (users.length > 0) {
    fail(
      'CONFLICT',
      `Version "${versionId}" is in use by ${users.length} live fork(s); remove it after they finish.`,
      { scope: slice.scope, name: slice.name, versionId, forks: users.map((fork) => fork.id) },
    );
  }
  if (!lost && isBorrowed(version, now)) {
    fail(
      'CONFLICT',
      `Version "${versionId}" is being forked by another volume that falls back to it; remove it once that attach is done.`,
      { scope: slice.scope, name: slice.name, versionId, borrowedBy: Object.keys(version.borrows ?? {}) },
    );
  }
  return withVolume(slice, withVersion(volume, { ...version, state: 'removing', leaseUntil }));
}

/** The host that finished a removal, for {@link completeRemoveVersion}. */
export interface RemovingHost {
  /** The host whose copy was removed. */
  host: string;
  /** How long the hosts that still hold copies have to remove theirs (ms since epoch). */
  until: number;
  /** The copy was found gone (`lost`), not removed on purpose: other hosts keep theirs. */
  lost?: boolean;
}

/**
 * Finishes removing a version: its record goes. With `by` (the host whose copy was just
 * removed) and other hosts still holding copies, the record stays instead: `removing` with
 * `pendingCopies`, `hosts` without `by.host`, until `by.until`, so that each of those hosts
 * removes its copy (see `leftCopies` in `model/locations.ts`); a lost copy (`by.lost`) only
 * takes its host out of `hosts`, and the version stays committed for the others. A record that
 * is pending copies already goes (its time for them ran out). Idempotent.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param by - the host whose copy was removed
 */
export function completeRemoveVersion(slice: VolumeSlice, versionId: string, by?: RemovingHost): VolumeSlice {
  const volume = slice.volume;
  const version = volume?.versions[versionId];
  if (!volume || !version) return slice;
  const others = version.hosts.filter((host) => host !== by?.host);
  if (by && others.length > 0 && !version.pendingCopies) {
    const kept: VersionRecord = by.lost
      ? { ...version, state: 'committed', hosts: others, leaseUntil: null }
      : { ...version, hosts: others, leaseUntil: by.until, pendingCopies: true };
    return withVolume(slice, withVersion(volume, kept));
  }
  const { [versionId]: _removed, ...versions } = volume.versions;
  const versionIds = volume.versionIds.filter((id) => id !== versionId);
  return withVolume(slice, { ...volume, versions, versionIds });
}

/**
 * Drops the volume's record when it has no versions and no live forks, nor objects in the
 * object store or temporary bases (their records are what gc and reconcile delete them by).
 * Idempotent.
 *
 * @param slice - the volume's slice
 */
export function dropEmptyVolume(slice: VolumeSlice): VolumeSlice {
  if (!slice.volume || Object.keys(slice.volume.versions).length > 0) return slice;
  if (Object.values(slice.forks).some(isLive)) return slice;
  if (slice.volume.objects?.length || slice.volume.temporaryBases?.length) return slice;
  return withVolume(slice, null);
}

/** Work that a reconciler claimed with {@link claimDue}. */
export type Claim =
  | {
      /** A fork whose lease ran out while attached: the claim began abandoning it. */
      kind: 'lease-expired';
      fork: ForkRecord;
    }
  | {
      /** An interrupted attach (`creating`), commit (`committing`) or abandon (`abandoning`). */
      kind: 'interrupted';
      fork: ForkRecord;
    }
  | {
      /** An interrupted removal of a version. */
      kind: 'removing';
      version: VersionRef;
    };

/** What {@link claimDue} needs. */
export interface ClaimInput {
  /** The current time. */
  now: number;
  /** The claim's lease end: the claimed work is this reconciler's until then. */
  until: number;
  /** Claim every intent in flight, whatever its lease (attached forks still only when expired). */
  force?: boolean;
}

/**
 * Claims the slice's due work for one reconciler: attached forks whose lease ran out (they
 * become `abandoning`), intents whose lease ran out (or every intent with `force`), and
 * removing versions whose lease ran out. Each claimed item's lease is set to `until`, so
 * another reconciler that reads the slice next finds nothing due and leaves it alone.
 *
 * @param slice - the volume's slice
 * @param input - the time, the claim's lease end, `force`
 * @returns the new slice and what was claimed
 */
export function claimDue(slice: VolumeSlice, input: ClaimInput): { slice: VolumeSlice; claims: Claim[] } {
  const claims: Claim[] = [];
  let next = slice;
  for (const fork of Object.values(slice.forks)) {
    if (!isLive(fork)) continue;
    const expired = fork.expiresAt <= input.now;
    const intent = isIntent(fork);
    if (!expired && !(intent && input.force)) continue;
    // An attached fork whose lease ran out is abandoned: the claim records that intent, so a
    // reconciler that dies right after claiming leaves an abandon for the next one to finish.
    const claimed: ForkRecord = intent
      ? { ...fork, expiresAt: input.until }
      : { ...fork, state: 'abandoning', versionId: null, commitAfterSeq: null, expiresAt: input.until };
    next = withFork(next, claimed);
    claims.push({ kind: intent ? 'interrupted' : 'lease-expired', fork: claimed });
  }
  const volume = next.volume;
  if (volume) {
    let versions = volume.versions;
    for (const version of Object.values(volume.versions)) {
      if (version.state !== 'removing') continue;
      if ((version.leaseUntil ?? 0) > input.now && !input.force) continue;
      versions = { ...versions, [version.id]: { ...version, leaseUntil: input.until } };
      claims.push({
        kind: 'removing',
        version: { scope: slice.scope, name: slice.name, versionId: version.id },
      });
    }
    if (versions !== volume.versions) next = withVolume(next, { ...volume, versions });
  }
  return { slice: next, claims };
}
