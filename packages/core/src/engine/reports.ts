import type { BackendEntry } from '../contracts/backend.js';
import type { VersionRecord } from '../model/state.js';
import type { VersionRef } from '../model/transitions.js';
import type { UnlinkResult } from './linking/options.js';

/** What `finish()` did. */
export interface FinishOutcome {
  /** `committed`, `abandoned` (the job failed or was dropped) or `skipped` (the mode chose not to commit). */
  action: 'committed' | 'abandoned' | 'skipped';
  /** The new version, when committed. */
  version: VersionRecord | null;
  /** What undoing the fork's links did; absent when nothing was linked. */
  links?: UnlinkResult[];
}

/** What `gc()` did. */
export interface GcReport {
  /** Forks abandoned because their lease ran out (also in `reconcile.expiredForks`). */
  expiredForks: string[];
  /** Versions removed by retention. */
  removedVersions: VersionRef[];
  /** Ended fork records dropped. */
  prunedForks: number;
  /** Keys of the objects deleted from the object store, no longer needed (see `CacheVolumesOptions.objects`). */
  deletedObjects: string[];
  /** What the repair and backend sweep inside gc did. */
  reconcile: ReconcileReport;
}

/** What `reconcile()` (and the repair pass of `gc()`) did. */
export interface ReconcileReport {
  /** Attached forks whose lease ran out, abandoned. */
  expiredForks: string[];
  /** Interrupted commits that were completed. */
  committed: string[];
  /** Interrupted attaches, commits and abandons that ended as abandoned. */
  abandoned: string[];
  /** Interrupted version removals completed. */
  removedVersions: string[];
  /**
   * Versions whose receive on this host a crash cut short (its claim ran out): what the backend
   * held of them was removed, and the claim dropped.
   */
  abandonedReceives: string[];
  /**
   * Versions another host removed while this host still held a copy: this host's copy was
   * removed, and the host left the version's `hosts` (the record goes with the last one).
   */
  removedCopies: string[];
  /** Backend entries that no record owned, removed (only with `removeUnaccounted`). */
  leftovers: BackendEntry[];
  /**
   * Backend entries that no record owns, kept: data the state cannot account for is deleted
   * only on request (`removeUnaccounted`, `cachevol gc --force`).
   */
  unaccounted: BackendEntry[];
  /** Operations that failed and will be retried next time. */
  errors: { id: string; error: string }[];
}

/** A fork, as `fork()` and `forks()` report it. */
export type { ForkRecord as ForkInfo } from '../model/state.js';
