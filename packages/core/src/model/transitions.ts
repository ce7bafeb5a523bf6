import { CacheVolumeError } from '../errors.js';
import { forkCapacity } from '../size.js';
import type { Policy } from './policy.js';
import { type Selection, selectParent } from './selection.js';
import type {
  CommitMode,
  ForkRecord,
  ForkState,
  State,
  VersionRecord,
  VolumeKey,
  VolumeRecord,
} from './state.js';
import { volumeKeyString } from './state.js';

/**
 * State transitions. Each takes a state and returns a new one (the input is never changed), so
 * a store can apply them inside an atomic read-modify-write. Intents (`creating`, `committing`,
 * `abandoning`, `removing`) are written before the backend step; the `complete*` transitions
 * after it.
 */

/** What {@link beginAttach} needs. */
export interface AttachInput extends VolumeKey {
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
}

function fail(
  code: 'NOT_FOUND' | 'CONFLICT' | 'ALREADY_EXISTS',
  message: string,
  details: Record<string, unknown>,
): never {
  throw new CacheVolumeError(code, message, { details });
}

/**
 * Finds a fork or throws `NOT_FOUND`.
 *
 * @param state - the state
 * @param forkId - the fork's id
 */
export function getFork(state: State, forkId: string): ForkRecord {
  const fork = state.forks[forkId];
  if (!fork) {
    fail('NOT_FOUND', `No fork with id "${forkId}": it was never attached here, or gc() pruned it.`, {
      forkId,
    });
  }
  return fork;
}

function withFork(state: State, fork: ForkRecord): State {
  return { ...state, forks: { ...state.forks, [fork.id]: fork } };
}

function withVolume(state: State, volume: VolumeRecord): State {
  return { ...state, volumes: { ...state.volumes, [volumeKeyString(volume)]: volume } };
}

function touchVersion(volume: VolumeRecord, versionId: string, now: number): VolumeRecord {
  const version = volume.versions[versionId];
  if (!version) return volume;
  return { ...volume, versions: { ...volume.versions, [versionId]: { ...version, lastUsedAt: now } } };
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
 * hit/stale/miss, and marks the parent as used.
 *
 * @param state - the state
 * @param input - what is attached, by whom, when
 * @returns the new state, the fork record, and the selection that was made
 */
export function beginAttach(
  state: State,
  input: AttachInput,
): { state: State; fork: ForkRecord; selection: Selection } {
  if (state.forks[input.forkId])
    fail('ALREADY_EXISTS', `Fork id "${input.forkId}" is already in use.`, { forkId: input.forkId });
  const key = volumeKeyString(input);
  const existing = state.volumes[key];
  const selection = selectParent(
    existing,
    Object.values(state.forks),
    { host: input.host, now: input.now },
    input.policy,
  );
  let volume = existing ?? newVolume(input, input.now);
  volume = {
    ...volume,
    counts: { ...volume.counts, [selection.result]: volume.counts[selection.result] + 1 },
    lastUsedAt: input.now,
  };
  if (selection.version) volume = touchVersion(volume, selection.version.id, input.now);
  const fork: ForkRecord = {
    id: input.forkId,
    scope: input.scope,
    name: input.name,
    baseId: selection.version?.id ?? null,
    result: selection.result,
    requestedBytes: input.requestedBytes,
    capacityBytes: forkCapacity(input.requestedBytes, selection.version?.usedBytes),
    host: input.host,
    job: input.job,
    commitMode: input.commitMode,
    createdAt: input.now,
    expiresAt: input.now + input.leaseMs,
    mountPath: null,
    state: 'creating',
    versionId: null,
    endedAt: null,
  };
  return { state: withFork(withVolume(state, volume), fork), fork, selection };
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
 * @param state - the state
 * @param forkId - the fork
 * @param mountPath - where the backend mounted it
 */
export function completeAttach(state: State, forkId: string, mountPath: string): State {
  const fork = getFork(state, forkId);
  expectState(fork, ['creating'], 'finish attaching');
  return withFork(state, { ...fork, state: 'attached', mountPath });
}

/**
 * Renews a fork's lease.
 *
 * @param state - the state
 * @param forkId - the fork
 * @param expiresAt - the new lease end
 */
export function renewLease(state: State, forkId: string, expiresAt: number): State {
  const fork = getFork(state, forkId);
  expectState(fork, ['attached'], 'renew the lease of');
  return withFork(state, { ...fork, expiresAt: Math.max(fork.expiresAt, expiresAt) });
}

/**
 * Starts a commit: `attached` → `committing`, recording the version id the commit will create.
 *
 * @param state - the state
 * @param forkId - the fork
 * @param versionId - the new version's id (made by the engine)
 * @param expiresAt - lease end for the commit itself
 * @throws `CONFLICT` for a double commit or a commit after abandon; `NOT_FOUND` for unknown ids
 */
export function beginCommit(state: State, forkId: string, versionId: string, expiresAt: number): State {
  const fork = getFork(state, forkId);
  expectState(fork, ['attached'], 'commit');
  return withFork(state, {
    ...fork,
    state: 'committing',
    versionId,
    expiresAt: Math.max(fork.expiresAt, expiresAt),
  });
}

/**
 * Finishes a commit: the fork becomes the volume's newest version (the head: "last write"
 * wins, by order of completion) and the fork is `committed`.
 *
 * @param state - the state
 * @param forkId - the fork
 * @param usedBytes - bytes in use, as the backend measured
 * @param now - completion time
 * @returns the new state and the version record
 */
export function completeCommit(
  state: State,
  forkId: string,
  usedBytes: number,
  now: number,
): { state: State; version: VersionRecord } {
  const fork = getFork(state, forkId);
  expectState(fork, ['committing'], 'finish committing');
  const key = volumeKeyString(fork);
  const volume = state.volumes[key] ?? newVolume(fork, now);
  const version: VersionRecord = {
    id: fork.versionId as string,
    seq: volume.seq + 1,
    baseId: fork.baseId,
    usedBytes,
    committedAt: now,
    lastUsedAt: now,
    hosts: [fork.host],
    state: 'committed',
  };
  const nextVolume: VolumeRecord = {
    ...volume,
    seq: version.seq,
    lastUsedAt: now,
    versions: { ...volume.versions, [version.id]: version },
    versionIds: [...volume.versionIds, version.id],
  };
  const next = withFork(withVolume(state, nextVolume), { ...fork, state: 'committed', endedAt: now });
  return { state: next, version };
}

/**
 * Starts an abandon: `creating`, `attached` or `committing` → `abandoning`. Abandoning an
 * abandoned fork is a no-op.
 *
 * @param state - the state
 * @param forkId - the fork
 * @throws `CONFLICT` when the fork was committed
 */
export function beginAbandon(state: State, forkId: string): State {
  const fork = getFork(state, forkId);
  if (fork.state === 'abandoned' || fork.state === 'abandoning') return state;
  expectState(fork, ['creating', 'attached', 'committing'], 'abandon');
  return withFork(state, { ...fork, state: 'abandoning', versionId: null });
}

/**
 * Finishes an abandon: the fork is `abandoned`. No version or head changes.
 *
 * @param state - the state
 * @param forkId - the fork
 * @param now - completion time
 */
export function completeAbandon(state: State, forkId: string, now: number): State {
  const fork = getFork(state, forkId);
  if (fork.state === 'abandoned') return state;
  expectState(fork, ['abandoning'], 'finish abandoning');
  return withFork(state, { ...fork, state: 'abandoned', endedAt: now });
}

/** A version together with the volume it belongs to. */
export interface VersionRef extends VolumeKey {
  /** The version's id. */
  versionId: string;
}

/**
 * Tells which live forks depend on a version (forked from it, not yet ended).
 *
 * @param state - the state
 * @param versionId - the version
 */
export function dependents(state: State, versionId: string): ForkRecord[] {
  return Object.values(state.forks).filter(
    (fork) =>
      fork.baseId === versionId &&
      (fork.state === 'creating' ||
        fork.state === 'attached' ||
        fork.state === 'committing' ||
        fork.state === 'abandoning'),
  );
}

/**
 * Starts removing a version: it stops being selectable at once (`removing`).
 *
 * @param state - the state
 * @param ref - the version
 * @throws `CONFLICT` while a live fork depends on it; `NOT_FOUND` when it does not exist
 */
export function beginRemoveVersion(state: State, ref: VersionRef): State {
  const volume = state.volumes[volumeKeyString(ref)];
  const version = volume?.versions[ref.versionId];
  if (!volume || !version) {
    fail('NOT_FOUND', `No version "${ref.versionId}" in volume "${ref.name}" (scope "${ref.scope}").`, {
      ...ref,
    });
  }
  if (version.state === 'removing') return state;
  const users = dependents(state, ref.versionId);
  if (users.length > 0) {
    fail(
      'CONFLICT',
      `Version "${ref.versionId}" is in use by ${users.length} live fork(s); remove it after they finish.`,
      {
        ...ref,
        forks: users.map((fork) => fork.id),
      },
    );
  }
  return withVolume(state, {
    ...volume,
    versions: { ...volume.versions, [version.id]: { ...version, state: 'removing' } },
  });
}

/**
 * Finishes removing a version: its record goes. Idempotent.
 *
 * @param state - the state
 * @param ref - the version
 */
export function completeRemoveVersion(state: State, ref: VersionRef): State {
  const volume = state.volumes[volumeKeyString(ref)];
  if (!volume?.versions[ref.versionId]) return state;
  const { [ref.versionId]: _removed, ...versions } = volume.versions;
  const versionIds = volume.versionIds.filter((id) => id !== ref.versionId);
  return withVolume(state, { ...volume, versions, versionIds });
}

/**
 * Drops records of forks that ended (committed or abandoned) before `before`.
 *
 * @param state - the state
 * @param before - cut-off time (ms)
 */
export function pruneEndedForks(state: State, before: number): State {
  const forks: Record<string, ForkRecord> = {};
  let pruned = false;
  for (const fork of Object.values(state.forks)) {
    if (fork.endedAt !== null && fork.endedAt < before) pruned = true;
    else forks[fork.id] = fork;
  }
  return pruned ? { ...state, forks } : state;
}

/**
 * Removes a volume record that has no versions and no live forks. Idempotent.
 *
 * @param state - the state
 * @param key - the volume
 */
export function dropEmptyVolume(state: State, key: VolumeKey): State {
  const id = volumeKeyString(key);
  const volume = state.volumes[id];
  if (!volume || Object.keys(volume.versions).length > 0) return state;
  if (
    Object.values(state.forks).some((f) => f.scope === key.scope && f.name === key.name && f.endedAt === null)
  )
    return state;
  const { [id]: _dropped, ...volumes } = state.volumes;
  return { ...state, volumes };
}
