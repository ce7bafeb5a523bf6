import type { ForkRecord, VersionRecord } from '../model/state.js';
import type { VersionRef } from '../model/transitions.js';

/** What `finish()` did. */
export interface FinishOutcome {
  /** `committed`, `abandoned` (the job failed or was dropped) or `skipped` (the mode chose not to commit). */
  action: 'committed' | 'abandoned' | 'skipped';
  /** The new version, when committed. */
  version: VersionRecord | null;
}

/** What `gc()` did. */
export interface GcReport {
  /** Forks abandoned because their lease ran out. */
  expiredForks: string[];
  /** Versions removed by retention. */
  removedVersions: VersionRef[];
  /** Ended fork records dropped. */
  prunedForks: number;
  /** What the reconcile pass inside gc did. */
  reconcile: ReconcileReport;
}

/** What `reconcile()` did. */
export interface ReconcileReport {
  /** Interrupted commits that were completed. */
  committed: string[];
  /** Interrupted attaches, commits and abandons that ended as abandoned. */
  abandoned: string[];
  /** Interrupted version removals completed. */
  removedVersions: string[];
  /** Backend entries that no record owned, removed. */
  leftovers: { kind: 'fork' | 'version'; id: string }[];
  /** Operations that failed and will be retried next time. */
  errors: { id: string; error: string }[];
}

/** A fork, as `fork()` and `forks()` report it. */
export type ForkInfo = ForkRecord;
