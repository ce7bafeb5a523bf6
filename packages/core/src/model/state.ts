/**
 * The model's state: plain, JSON-serialisable data that a {@link Store} keeps. Every function in
 * `model/` takes a state and returns a new one; none does I/O, reads a clock or draws random
 * numbers.
 */

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
  /** When the commit completed (ms since epoch). */
  committedAt: number;
  /** When it was last committed or forked (ms since epoch); retention counts idle time from here. */
  lastUsedAt: number;
  /** Hosts that hold a copy. */
  hosts: string[];
  /** `committed`, or `removing` while being removed. */
  state: 'committed' | 'removing';
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
  /** When it reached `committed` or `abandoned` (ms since epoch). */
  endedAt: number | null;
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

/** A volume: its versions and counters. Forks live in {@link State.forks}. */
export interface VolumeRecord extends VolumeKey {
  /** The last `seq` handed out. */
  seq: number;
  /** Versions by id. */
  versions: Record<string, VersionRecord>;
  /**
   * The ids of {@link VolumeRecord.versions} in commit order (ascending `seq`), so the head is
   * near the end. The transitions keep it; selection walks it from the newest version and stops
   * at the first usable one, so a hit costs the same with 10 or 100,000 versions.
   */
  versionIds: string[];
  /** Attach counts since the volume was created. */
  counts: AttachCounts;
  /** The last attach or commit (ms since epoch). */
  lastUsedAt: number;
}

/** The whole state a store keeps. */
export interface State {
  /** Format version of this document. */
  schema: 1;
  /** Volumes by {@link volumeKeyString}. */
  volumes: Record<string, VolumeRecord>;
  /** Forks by id, including ended ones until `gc()` prunes them. */
  forks: Record<string, ForkRecord>;
}

/** A state with nothing in it. */
export function emptyState(): State {
  return { schema: 1, volumes: {}, forks: {} };
}

/**
 * The string a volume is filed under in {@link State.volumes}: `scope` and `name` joined by a
 * character that neither may contain.
 *
 * @param key - scope and name
 */
export function volumeKeyString(key: VolumeKey): string {
  return `${key.scope}\u0000${key.name}`;
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
