import type { BackendEntry } from '../contracts/backend.js';
import type { Policy } from '../model/policy.js';
import type { PlannedRemoval } from '../model/retention.js';
import { headOf, isExpired, type Selection } from '../model/selection.js';
import { type ForkRecord, isLive, type State, type VolumeRecord, volumeKeyString } from '../model/state.js';
import { forkCapacity } from '../size.js';

/**
 * Named, reusable assertions for the invariants in DESIGN.md. Each throws an
 * {@link InvariantViolation} naming the invariant, so a property test (or an orchestrator's own
 * test suite) can apply them to any state or implementation.
 */

/** Thrown when an invariant does not hold. */
export class InvariantViolation extends Error {
  /** The invariant's name, e.g. `headIsLastCommitted`. */
  readonly invariant: string;
  /**
   * @param invariant - the invariant's name
   * @param message - what was found
   */
  constructor(invariant: string, message: string) {
    super(`Invariant ${invariant} violated: ${message}`);
    this.name = 'InvariantViolation';
    this.invariant = invariant;
  }
}

function check(condition: unknown, invariant: string, message: () => string): asserts condition {
  if (!condition) throw new InvariantViolation(invariant, message());
}

/** One successful commit, in completion order, as a test recorded it. */
export interface CommitRecord {
  /** The volume's scope. */
  scope: string;
  /** The volume's name. */
  name: string;
  /** The version the commit created. */
  versionId: string;
}

/**
 * Versions are listed in commit order: every volume's `versionIds` names each of its versions
 * exactly once, in ascending `seq` (selection relies on it to start from the newest).
 *
 * @param state - the state
 */
export function assertVersionsInCommitOrder(state: State): void {
  for (const volume of Object.values(state.volumes)) {
    const ids = volume.versionIds;
    check(
      ids.length === Object.keys(volume.versions).length && new Set(ids).size === ids.length,
      'versionsInCommitOrder',
      () => `${volume.name}: versionIds [${ids.join(', ')}] do not list each version once`,
    );
    ids.forEach((id, i) => {
      const version = volume.versions[id];
      const previous = i > 0 ? volume.versions[ids[i - 1] as string] : undefined;
      check(version !== undefined, 'versionsInCommitOrder', () => `${volume.name}: no version ${id}`);
      check(
        !previous || !version || previous.seq < version.seq,
        'versionsInCommitOrder',
        () => `${volume.name}: ${id} is listed after a version with a higher seq`,
      );
    });
  }
}

/**
 * Head is always the last committed, non-removed version: for every volume, the head has the
 * highest `seq` among committed versions, seqs are unique, and none exceeds the volume's
 * counter.
 *
 * @param state - the state
 */
export function assertHeadIsLastCommitted(state: State): void {
  for (const volume of Object.values(state.volumes)) {
    const seqs = new Set<number>();
    for (const version of Object.values(volume.versions)) {
      check(
        !seqs.has(version.seq),
        'headIsLastCommitted',
        () => `two versions of ${volume.name} share seq ${version.seq}`,
      );
      seqs.add(version.seq);
      check(
        version.seq <= volume.seq,
        'headIsLastCommitted',
        () => `version ${version.id} has seq above the volume's counter`,
      );
    }
    const head = headOf(volume);
    const committed = Object.values(volume.versions).filter((v) => v.state === 'committed');
    const maxSeq = Math.max(0, ...committed.map((v) => v.seq));
    check(
      (head?.seq ?? 0) === maxSeq,
      'headIsLastCommitted',
      () => `head of ${volume.name} is not the highest committed seq`,
    );
  }
}

/**
 * Every successful commit is the head or was superseded by a later one: walking the commit log
 * of each volume in completion order, the head is the last logged commit that still exists
 * (retention may remove versions, never reorder them), and a logged version's seq is higher
 * than every version logged before it.
 *
 * @param state - the state
 * @param log - the successful commits, in completion order
 */
export function assertCommitsDurable(state: State, log: readonly CommitRecord[]): void {
  const byVolume = new Map<string, CommitRecord[]>();
  for (const entry of log) {
    const key = volumeKeyString(entry);
    byVolume.set(key, [...(byVolume.get(key) ?? []), entry]);
  }
  for (const [key, entries] of byVolume) {
    const volume = state.volumes[key];
    let lastSeq = 0;
    let lastPresent: string | undefined;
    for (const entry of entries) {
      const version = volume?.versions[entry.versionId];
      if (!version) continue;
      check(
        version.seq > lastSeq,
        'commitsDurable',
        () => `commit ${entry.versionId} is ordered before an earlier commit`,
      );
      lastSeq = version.seq;
      if (version.state === 'committed') lastPresent = entry.versionId;
    }
    const head = headOf(volume);
    if (lastPresent) {
      check(
        head !== undefined && head.seq >= (volume?.versions[lastPresent]?.seq ?? 0),
        'commitsDurable',
        () => `the last commit ${lastPresent} is neither head nor superseded`,
      );
    }
  }
}

/**
 * An abandoned fork changes nothing: the versions (ids, seqs, bytes, states) and heads of
 * every volume are the same before and after.
 *
 * @param before - state before the abandon
 * @param after - state after it
 */
export function assertAbandonChangesNothing(before: State, after: State): void {
  const shape = (s: State) =>
    Object.entries(s.volumes)
      .map(
        ([key, v]) =>
          `${key}:${headOf(v)?.id ?? '-'}:${Object.values(v.versions)
            .map((x) => `${x.id}/${x.seq}/${x.usedBytes}/${x.state}`)
            .sort()
            .join(',')}`,
      )
      .sort()
      .join('|');
  check(shape(before) === shape(after), 'abandonChangesNothing', () => 'versions or head changed');
}

/**
 * Selection never returns an expired, removed or uncommitted version; it returns the head when
 * the head is usable; `hit` means head and `stale` means an older version.
 *
 * @param selection - what `selectParent` returned
 * @param volume - the volume it was given
 * @param host - the requesting host
 * @param now - the time it was given
 * @param policy - the policy it was given
 */
export function assertSelectionValid(
  selection: Selection,
  volume: VolumeRecord | undefined,
  host: string,
  now: number,
  policy: Policy,
): void {
  const name = 'selectionValid';
  const head = headOf(volume);
  if (selection.version === null) {
    check(selection.result === 'miss', name, () => 'no version but not a miss');
    return;
  }
  const stored = volume?.versions[selection.version.id];
  check(stored !== undefined, name, () => `selected ${selection.version?.id}, which does not exist`);
  check(stored.state === 'committed', name, () => `selected ${stored.id}, which is ${stored.state}`);
  check(!isExpired(stored, now, policy.retentionMs), name, () => `selected ${stored.id}, which is expired`);
  check(
    policy.transfer || stored.hosts.includes(host),
    name,
    () => `selected ${stored.id}, which is not on ${host}`,
  );
  check(
    (selection.result === 'hit') === (stored.id === head?.id),
    name,
    () => `result ${selection.result} for ${stored.id} (head ${head?.id})`,
  );
}

/**
 * Capacity follows the size math: requested bytes plus the base version's used bytes on a hit
 * or stale hit, requested bytes on a miss.
 *
 * @param fork - the fork
 * @param baseUsedBytes - the base version's used bytes when it was forked (`undefined` on a miss)
 */
export function assertCapacityFollowsSizeMath(fork: ForkRecord, baseUsedBytes: number | undefined): void {
  const expected = forkCapacity(fork.requestedBytes, fork.baseId === null ? undefined : baseUsedBytes);
  check(
    fork.capacityBytes === expected,
    'capacityFollowsSizeMath',
    () => `fork ${fork.id} has ${fork.capacityBytes}, expected ${expected}`,
  );
}

/**
 * Retention never removes a version a live fork depends on.
 *
 * @param state - the state the plan was made from
 * @param plan - the removals planned
 */
export function assertRetentionSparesLiveForks(state: State, plan: readonly PlannedRemoval[]): void {
  const used = new Set(
    Object.values(state.forks)
      .filter(isLive)
      .map((f) => f.baseId),
  );
  for (const removal of plan) {
    check(
      !used.has(removal.versionId),
      'retentionSparesLiveForks',
      () => `planned to remove ${removal.versionId}, a live fork's base`,
    );
  }
}

/**
 * Every live fork's base version still exists in the state (retention and removal never took it).
 *
 * @param state - the state
 */
export function assertLiveForksHaveBases(state: State): void {
  for (const fork of Object.values(state.forks)) {
    if (!isLive(fork) || fork.baseId === null || fork.state === 'abandoning') continue;
    const version = state.volumes[volumeKeyString(fork)]?.versions[fork.baseId];
    check(version !== undefined, 'liveForksHaveBases', () => `fork ${fork.id} lost its base ${fork.baseId}`);
  }
}

/**
 * After `reconcile({ force: true })`: no operation is left half-done (no `creating`,
 * `committing`, `abandoning` fork, no `removing` version), and the backend holds exactly what
 * the state owns: every attached fork and every version, nothing else.
 *
 * @param state - the state after reconcile
 * @param entries - `backend.list()` after reconcile
 */
export function assertReconciled(state: State, entries: readonly BackendEntry[]): void {
  const name = 'reconciled';
  const expected = new Set<string>();
  for (const fork of Object.values(state.forks)) {
    check(fork.state === 'attached' || !isLive(fork), name, () => `fork ${fork.id} is still ${fork.state}`);
    if (fork.state === 'attached') expected.add(`fork:${fork.id}`);
  }
  for (const volume of Object.values(state.volumes)) {
    for (const version of Object.values(volume.versions)) {
      check(version.state === 'committed', name, () => `version ${version.id} is still ${version.state}`);
      expected.add(`version:${version.id}`);
    }
  }
  const actual = new Set(entries.map((e) => `${e.kind}:${e.id}`));
  for (const id of expected) check(actual.has(id), name, () => `the backend lost ${id}`);
  for (const id of actual) check(expected.has(id), name, () => `the backend holds ${id}, which nothing owns`);
}

/**
 * Runs every state-only invariant at once.
 *
 * @param state - the state
 * @param log - successful commits, in completion order (optional)
 */
export function assertStateInvariants(state: State, log: readonly CommitRecord[] = []): void {
  assertVersionsInCommitOrder(state);
  assertHeadIsLastCommitted(state);
  assertCommitsDurable(state, log);
  assertLiveForksHaveBases(state);
}
