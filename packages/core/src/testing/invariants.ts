import type { BackendEntry } from '../contracts/backend.js';
import type { Policy } from '../model/policy.js';
import type { PlannedRemoval } from '../model/retention.js';
import { headOf, isExpired, type Selection } from '../model/selection.js';
import {
  compareVersionOrder,
  type ForkRecord,
  isLive,
  type VersionRecord,
  type VolumeRecord,
  type VolumeSlice,
  volumeKeyString,
} from '../model/state.js';
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

const volumesOf = (slices: Iterable<VolumeSlice>): VolumeRecord[] => {
  const out: VolumeRecord[] = [];
  for (const slice of slices) if (slice.volume) out.push(slice.volume);
  return out;
};

/**
 * Versions are listed in head order: every volume's `versionIds` names each of its versions
 * exactly once, sorted by `versionOrder` (ascending `seq`, late-repaired commits right after
 * the version they began after). Selection relies on it to start from the newest.
 *
 * @param slices - the volumes' slices
 */
export function assertVersionsInCommitOrder(slices: Iterable<VolumeSlice>): void {
  for (const volume of volumesOf(slices)) {
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
        !previous || compareVersionOrder(previous, version) < 0,
        'versionsInCommitOrder',
        () => `${volume.name}: ${id} is listed after a version it orders before`,
      );
    });
  }
}

/**
 * Head is always the last committed, non-removed version: for every volume, seqs are unique and
 * none exceeds the volume's counter, and the head is the committed version that orders last.
 *
 * @param slices - the volumes' slices
 */
export function assertHeadIsLastCommitted(slices: Iterable<VolumeSlice>): void {
  for (const volume of volumesOf(slices)) {
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
    const last = Object.values(volume.versions)
      .filter((v) => v.state === 'committed')
      .reduce<VersionRecord | undefined>((a, b) => (a && compareVersionOrder(a, b) > 0 ? a : b), undefined);
    check(
      head?.id === last?.id,
      'headIsLastCommitted',
      () => `head of ${volume.name} is ${head?.id}, but the last committed version is ${last?.id}`,
    );
  }
}

/**
 * Every successful commit is the head or was superseded by a later one: walking the commit log
 * of each volume in completion order, each logged version that still exists orders after every
 * logged version before it, and the head orders at or after the last one (retention may remove
 * versions, never reorder them).
 *
 * @param slices - the volumes' slices
 * @param log - the successful commits, in completion order
 */
export function assertCommitsDurable(slices: Iterable<VolumeSlice>, log: readonly CommitRecord[]): void {
  const volumes = new Map(volumesOf(slices).map((v) => [volumeKeyString(v), v]));
  const byVolume = new Map<string, CommitRecord[]>();
  for (const entry of log) {
    const key = volumeKeyString(entry);
    byVolume.set(key, [...(byVolume.get(key) ?? []), entry]);
  }
  for (const [key, entries] of byVolume) {
    const volume = volumes.get(key);
    let last: VersionRecord | undefined;
    let lastPresent: VersionRecord | undefined;
    for (const entry of entries) {
      const version = volume?.versions[entry.versionId];
      if (!version) continue;
      check(
        !last || compareVersionOrder(last, version) < 0,
        'commitsDurable',
        () => `commit ${entry.versionId} is ordered before an earlier commit`,
      );
      last = version;
      if (version.state === 'committed') lastPresent = version;
    }
    const head = headOf(volume);
    if (lastPresent) {
      const present = lastPresent;
      check(
        head !== undefined && compareVersionOrder(head, present) >= 0,
        'commitsDurable',
        () => `the last commit ${present.id} is neither head nor superseded`,
      );
    }
  }
}

/**
 * An abandoned fork changes nothing: the versions (ids, seqs, bytes, states) and heads of
 * every volume are the same before and after.
 *
 * @param before - the slices before the abandon
 * @param after - the slices after it
 */
export function assertAbandonChangesNothing(
  before: Iterable<VolumeSlice>,
  after: Iterable<VolumeSlice>,
): void {
  const shape = (s: Iterable<VolumeSlice>) =>
    volumesOf(s)
      .map(
        (v) =>
          `${volumeKeyString(v)}:${headOf(v)?.id ?? '-'}:${Object.values(v.versions)
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
 * or stale hit, requested bytes on a miss (plus the fallback version's used bytes when a fallback
 * volume supplied the data).
 *
 * @param fork - the fork
 * @param baseUsedBytes - the base version's used bytes when it was forked (`undefined` on a miss)
 */
export function assertCapacityFollowsSizeMath(fork: ForkRecord, baseUsedBytes: number | undefined): void {
  const expected = forkCapacity(
    fork.requestedBytes,
    fork.baseId === null ? fork.source?.usedBytes : baseUsedBytes,
  );
  check(
    fork.capacityBytes === expected,
    'capacityFollowsSizeMath',
    () => `fork ${fork.id} has ${fork.capacityBytes}, expected ${expected}`,
  );
}

const forksOf = (slices: Iterable<VolumeSlice>): ForkRecord[] => {
  const out: ForkRecord[] = [];
  for (const slice of slices) out.push(...Object.values(slice.forks));
  return out;
};

/**
 * Retention never removes a version a live fork depends on.
 *
 * @param slices - the slices the plan was made from
 * @param plan - the removals planned
 */
export function assertRetentionSparesLiveForks(
  slices: Iterable<VolumeSlice>,
  plan: readonly PlannedRemoval[],
): void {
  const used = new Set(
    forksOf(slices)
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
 * Every live fork's base version still exists in its volume (retention and removal never took it).
 *
 * @param slices - the volumes' slices
 */
export function assertLiveForksHaveBases(slices: Iterable<VolumeSlice>): void {
  for (const slice of slices) {
    for (const fork of Object.values(slice.forks)) checkBase(slice, fork);
  }
}

function checkBase(slice: VolumeSlice, fork: ForkRecord): void {
  {
    if (!isLive(fork) || fork.baseId === null || fork.state === 'abandoning') return;
    const version = slice.volume?.versions[fork.baseId];
    check(version !== undefined, 'liveForksHaveBases', () => `fork ${fork.id} lost its base ${fork.baseId}`);
  }
}

/**
 * A version's copies are counted once: no host appears twice among its `hosts`, and none is
 * both holding it and receiving it.
 *
 * @param slices - the volumes' slices
 */
export function assertCopiesCountedOnce(slices: Iterable<VolumeSlice>): void {
  for (const volume of volumesOf(slices)) {
    for (const version of Object.values(volume.versions)) {
      check(
        new Set(version.hosts).size === version.hosts.length,
        'copiesCountedOnce',
        () => `version ${version.id} lists a host twice: ${version.hosts.join(', ')}`,
      );
      for (const host of Object.keys(version.receiving ?? {})) {
        check(
          !version.hosts.includes(host),
          'copiesCountedOnce',
          () => `version ${version.id} is both held and being received by ${host}`,
        );
      }
    }
  }
}

/**
 * After `reconcile({ force: true })`: no operation is left half-done (no `creating`,
 * `committing`, `abandoning` fork, no `removing` version), and the backend holds exactly what
 * the state owns: every attached fork and every version, nothing else.
 *
 * @param slices - every volume's slice after reconcile
 * @param entries - `backend.list()` after reconcile
 */
export function assertReconciled(slices: Iterable<VolumeSlice>, entries: readonly BackendEntry[]): void {
  const name = 'reconciled';
  const expected = new Set<string>();
  const all = [...slices];
  for (const fork of forksOf(all)) {
    check(fork.state === 'attached' || !isLive(fork), name, () => `fork ${fork.id} is still ${fork.state}`);
    if (fork.state === 'attached') expected.add(`fork:${fork.id}`);
  }
  for (const volume of volumesOf(all)) {
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
 * @param slices - every volume's slice
 * @param log - successful commits, in completion order (optional)
 */
export function assertStateInvariants(
  slices: Iterable<VolumeSlice>,
  log: readonly CommitRecord[] = [],
): void {
  const all = [...slices];
  assertVersionsInCommitOrder(all);
  assertHeadIsLastCommitted(all);
  assertCommitsDurable(all, log);
  assertLiveForksHaveBases(all);
  assertCopiesCountedOnce(all);
}
