/**
 * The model's state: plain, JSON-serialisable data that a {@link Store} keeps, one
 * {@link VolumeSlice} per volume. Every function in `model/` takes a slice and returns a new one;
 * none does I/O, reads a clock or draws random numbers.
 */

import type { TransferFormat } from '../contracts/backend.js';

/** Identifies a volume: a `name` inside an isolation `scope` (a pipeline, a cluster). */
export interface VolumeKey {
  /** The isolation unit. Volumes in different scopes never share versions. */
  scope: string;
  /** The volume's name; pipelines default it to their slug. */
  name: string;
}

/** How an attach was served: `hit` = got the head, `stale` = an older version, `miss` = empty. */
export type AttachResult = 'hit' | 'stale' | 'miss';

/**
 * What a job asks to happen to its fork when it finishes.
 *
 * - `on-success` (default): commit on exit code 0, abandon otherwise (the seeds' rule).
 * - `always`: commit whatever the exit code.
 * - `never`: read-only use; the fork is always discarded.
 * - `on-change`: like `on-success`, but skip the commit when the fork has no changes.
 * - `if-missing`: like `on-success`, but only when the attach was a miss.
 */
export type CommitMode = 'on-success' | 'always' | 'never' | 'on-change' | 'if-missing';

/** Every commit mode, in documentation order. */
export const COMMIT_MODES: readonly CommitMode[] = [
  'on-success',
  'always',
  'never',
  'on-change',
  'if-missing',
];

/**
 * A committed, immutable version of a volume.
 *
 * `state` is `committed` while it can be forked, and `removing` once the engine has decided to
 * remove it (the intent is recorded before the backend removes it).
 */
export interface VersionRecord {
  /** Backend id, made by the engine. */
  id: string;
  /** Per-volume commit order: the head has the highest `seq`. */
  seq: number;
  /** The version the committing fork came from, or `null` for one that started empty. */
  baseId: string | null;
  /** Bytes in use when committed. */
  usedBytes: number;
  /**
   * `true` while `usedBytes` is the backend's quick estimate from the commit (btrfs without
   * quotas) rather than a measurement; `gc()` measures such versions before it weighs sizes,
   * and the figure it records drops the mark. Absent means measured.
   */
  usedBytesEstimated?: true;
  /** When the commit completed (ms since epoch). */
  committedAt: number;
  /** When it was last committed or forked (ms since epoch); retention counts idle time from here. */
  lastUsedAt: number;
  /** Hosts that hold a copy, whole (the one that committed it, and those that received it). */
  hosts: string[];
  /**
   * Hosts receiving a copy from another host now: host → when its claim ends (ms since epoch).
   * A host joins `hosts` once its copy is whole and checked (see `model/locations.ts`). Absent
   * when nothing is received.
   */
  receiving?: Record<string, number>;
  /** `committed`, or `removing` while being removed. */
  state: 'committed' | 'removing';
  /**
   * Set once the host that removed the version has removed its own copy while other hosts
   * still held theirs: the record stays `removing`, `hosts` lists the hosts whose copies remain,
   * and each of them removes its copy and leaves `hosts` (its `gc()` or `reconcile()`, see
   * `model/locations.ts`); the record goes with the last, or when `leaseUntil` ends first (a
   * host that left the fleet). Absent otherwise.
   */
  pendingCopies?: true;
  /**
   * Where the version stands in head order. `null` for a commit that finished normally: it is
   * ordered by `seq`, after every version that finished before it. A commit that recovery
   * completed after newer commits of the volume had finished gets the `seq` of the last version
   * that had finished when it began: it is ordered right after that one and below every newer
   * commit, so a repaired commit never supersedes a newer one.
   */
  orderedAfterSeq: number | null;
  /**
   * While `removing`: when the removal's lease ends (ms since epoch). Until then the engine
   * that began the removal owns it; afterwards any reconciler may claim and finish it.
   */
  leaseUntil: number | null;
  /**
   * Forks of other volumes that are being made from this version right now (it is their
   * fallback; see {@link ForkSource}): fork id → when the borrow ends (ms since epoch). While a
   * borrow has not ended, retention, `gc()` and removal leave the version alone. Absent when
   * nothing borrows it.
   */
  borrows?: Record<string, number>;
}

/**
 * The lifecycle of a fork. `creating`, `committing` and `abandoning` are intents: the engine
 * writes them before the backend step and replaces them after it, so `reconcile()` knows what a
 * crash interrupted.
 */
export type ForkState = 'creating' | 'attached' | 'committing' | 'committed' | 'abandoning' | 'abandoned';

/** A job's private, writable copy of a volume. */
export interface ForkRecord {
  /** Backend id, made by the engine. */
  id: string;
  /** The volume's scope. */
  scope: string;
  /** The volume's name. */
  name: string;
  /** The version it was forked from, or `null` for an empty fork (a miss). */
  baseId: string | null;
  /** How the attach was served. */
  result: AttachResult;
  /** The size the job asked for, in bytes. */
  requestedBytes: number;
  /** The size the fork got, in bytes (see {@link forkCapacity}). */
  capacityBytes: number;
  /** The host it is attached on. */
  host: string;
  /** The job that holds it. */
  job: string;
  /** What happens on finish. */
  commitMode: CommitMode;
  /** When it was attached (ms since epoch). */
  createdAt: number;
  /** Lease end: a fork not renewed by then is abandoned by `gc()`. */
  expiresAt: number;
  /** Where it is mounted, once the backend made it. */
  mountPath: string | null;
  /** Lifecycle state. */
  state: ForkState;
  /** The version id its commit creates; set when the commit starts. */
  versionId: string | null;
  /**
   * The volume's `seq` when the commit started (the last commit that had finished then); set
   * with `versionId`. Recovery uses it so a late-repaired commit never supersedes a newer one.
   */
  commitAfterSeq: number | null;
  /** When it reached `committed` or `abandoned` (ms since epoch). */
  endedAt: number | null;
  /**
   * The cache paths linked to the fork on its host (see `ForkHandle.link`), recorded before
   * each link is made so that `finish`, `abandon` and `reconcile()` can undo them after a
   * crash. Absent when nothing was linked.
   */
  links?: ForkLink[];
  /**
   * Where the fork's data came from when its own volume had nothing usable (a `miss`) and a
   * fallback volume supplied it (see `AttachOptions.fallbacks`). Absent otherwise. `baseId` stays
   * `null`: the fork is based on nothing of its own volume, and its commit is that volume's.
   */
  source?: ForkSource;
}

/** The fallback volume's version a fork was made from (see {@link ForkRecord.source}). */
export interface ForkSource extends VolumeKey {
  /** The fallback volume's version that was forked. */
  versionId: string;
  /** How the fallback volume served it: its head (`hit`) or an older version (`stale`). */
  result: 'hit' | 'stale';
  /** That version's used bytes when it was forked (the fork's capacity adds them). */
  usedBytes: number;
}

/** How a cache path is linked to its fork's sub-directory. */
export type LinkMethod = 'bind' | 'symlink';

/** One cache path linked to a fork, as the fork's record keeps it. */
export interface ForkLink {
  /** The absolute host path of the link (in the working directory or under the instance root). */
  path: string;
  /** The fork's sub-directory shown there, relative to the fork's root. */
  subdir: string;
  /** A bind mount onto `path`, or a symlink at `path`. */
  method: LinkMethod;
  /** For a bind mount: the directory at `path` was made for it (and is removed after). */
  madeDir: boolean;
  /**
   * The process that holds the link until it ends the fork (see `LinkOptions.heldByProcess`),
   * on the fork's host: its pid and, on Linux, its start time (clock ticks after boot, so a
   * reused pid is not taken for it). Absent when the link outlives the process that made it.
   */
  holder?: { pid: number; startTicks: number | null };
}

/** Attach counts of a volume. */
export interface AttachCounts {
  /** Attaches that got the head. */
  hit: number;
  /** Attaches that got an older version. */
  stale: number;
  /** Attaches that got an empty fork. */
  miss: number;
}

/** The attach counts of one hour, in {@link VolumeRecord.hourly}. */
export interface HourCounts extends AttachCounts {
  /** The hour: ms since epoch divided by 3,600,000, rounded down. */
  hour: number;
}

/** A volume: its versions and counters. Its forks are in the same {@link VolumeSlice}. */
export interface VolumeRecord extends VolumeKey {
  /** The last `seq` handed out. */
  seq: number;
  /** Versions by id. */
  versions: Record<string, VersionRecord>;
  /**
   * The ids of {@link VolumeRecord.versions} in head order (see {@link versionOrder}: ascending
   * `seq`, with late-repaired commits placed below newer ones), so the head is near the end. The
   * transitions keep it; selection walks it from the newest version and stops at the first
   * usable one, so a hit costs the same with 10 or 100,000 versions.
   */
  versionIds: string[];
  /** Attach counts since the volume was created. */
  counts: AttachCounts;
  /**
   * Attach counts per hour over the last 7 days, oldest first; hours without attaches are left
   * out. Absent in volumes recorded before it existed (their history starts empty).
   */
  hourly?: HourCounts[];
  /** The last attach or commit (ms since epoch). */
  lastUsedAt: number;
  /**
   * The volume's versions in the object store (see `model/objects.ts`), in the order they were
   * recorded. Kept at the volume's level, so a full object outlives its version's record while
   * a differential needs it. Absent when nothing was uploaded.
   */
  objects?: ObjectCopy[];
  /**
   * Versions without a committed record that a host receives from the object store only as the
   * base of a differential, and removes once the differential arrived (see
   * `model/objects.ts`). Absent when there are none.
   */
  temporaryBases?: TemporaryBase[];
}

/**
 * The state of an {@link ObjectCopy}: `uploading` while its upload runs (under a lease),
 * `present` once the upload finished and the record was written (only then does it count),
 * `deleting` once it is unneeded and being deleted from the bucket.
 */
export type ObjectState = 'uploading' | 'present' | 'deleting';

/** One version's stream, stored as an object in the object store. */
export interface ObjectCopy {
  /** The object's key: unique, written once. */
  key: string;
  /** The version it holds. */
  versionId: string;
  /**
   * The version it is a differential against (the version of a full object of the same
   * lineage), or `null` for a full object. While `uploading`, the planned one (the upload may
   * turn out full); set to what was stored when the upload finished.
   */
  baseId: string | null;
  /** The stream's format. */
  format: TransferFormat;
  /** The object's size (`0` until the upload finished). */
  bytes: number;
  /** The sha256 (lowercase hex) of the object's bytes (`""` until the upload finished). */
  sha256: string;
  /** See {@link ObjectState}. */
  state: ObjectState;
  /** While `uploading`: when the upload's lease ends (ms since epoch); afterwards gc deletes it. */
  leaseUntil?: number;
}

/** A version a host receives from the object store as the base of a differential only. */
export interface TemporaryBase {
  /** The receiving host. */
  host: string;
  /** The base's version id (the one it has in the object store). */
  versionId: string;
  /** When the claim ends (ms since epoch); afterwards the host's reconcile removes the copy. */
  until: number;
}

/**
 * One volume's part of the state: its record (with its versions) and its forks. It is the unit
 * a {@link Store} transaction loads, hands to a pure function and writes back atomically, so
 * the cost of an operation never depends on how many other volumes exist.
 *
 * `forks` holds every live fork of the volume, plus the ended forks a transaction asked for by
 * id; ended forks stay findable by id until `gc()` prunes them.
 */
export interface VolumeSlice extends VolumeKey {
  /** The volume's record, or `null` before its first attach (and after it was dropped). */
  volume: VolumeRecord | null;
  /** The volume's forks by id (see above for which). */
  forks: Record<string, ForkRecord>;
}

/**
 * A slice with nothing in it yet.
 *
 * @param key - the volume
 */
export function emptySlice(key: VolumeKey): VolumeSlice {
  return { scope: key.scope, name: key.name, volume: null, forks: {} };
}

/**
 * The string a volume is filed under (in maps, logs and cursors): `scope` and `name` joined by a
 * character that neither may contain.
 *
 * @param key - scope and name
 */
export function volumeKeyString(key: VolumeKey): string {
  return `${key.scope}\u0000${key.name}`;
}

/**
 * The head-order sort key of a version: `[seq, 0]` for a normal commit, `[orderedAfterSeq, 1,
 * seq]` for a late-repaired one (right after the version it was begun after, below every later
 * commit). {@link VolumeRecord.versionIds} is sorted by it, ascending.
 *
 * @param version - the version
 */
export function versionOrder(version: VersionRecord): readonly number[] {
  return version.orderedAfterSeq === null || version.orderedAfterSeq === undefined
    ? [version.seq, 0]
    : [version.orderedAfterSeq, 1, version.seq];
}

/**
 * Compares two versions in head order (negative when `a` comes first).
 *
 * @param a - a version
 * @param b - another version of the same volume
 */
export function compareVersionOrder(a: VersionRecord, b: VersionRecord): number {
  const x = versionOrder(a);
  const y = versionOrder(b);
  // Stryker disable next-line EqualityOperator,MethodExpression: orders of unequal length ([seq, 0] and [after, 1, seq]) differ at index 1, so the shorter length decides and index max compares -1 with -1
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    // Stryker disable next-line UnaryOperator: never reached, since orders of unequal length differ at index 1
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Fork states in which a fork is alive: it holds backend resources and depends on its base. */
export const LIVE_FORK_STATES: readonly ForkState[] = ['creating', 'attached', 'committing', 'abandoning'];

/**
 * Tells whether a fork is alive (not yet committed or abandoned).
 *
 * @param fork - the fork
 */
export function isLive(fork: ForkRecord): boolean {
  return LIVE_FORK_STATES.includes(fork.state);
}
