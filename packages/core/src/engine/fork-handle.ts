import type { AttachResult, CommitMode, ForkRecord, VersionRecord } from '../model/state.js';
import type { FinishOutcome } from './reports.js';

/** What a {@link ForkHandle} needs from the engine: the operations on a fork by id. */
export interface ForkActions {
  /** Commits a fork. */
  commit(forkId: string): Promise<VersionRecord>;
  /** Abandons a fork. */
  abandon(forkId: string): Promise<void>;
  /** Ends a fork the way its commit mode says for an exit code. */
  finish(forkId: string, exitCode: number): Promise<FinishOutcome>;
  /** Renews a fork's lease. */
  heartbeat(forkId: string, leaseMs?: number): Promise<number>;
}

/**
 * A job's handle on its fork, as `attach()` or `fork(id)` returns it. The fields are a snapshot
 * taken when the handle was made; the methods act on the store's current state, so a handle
 * made in one process can commit a fork attached in another.
 */
export class ForkHandle {
  /** The fork's id: pass it to `CacheVolumes.fork()` in another process. */
  readonly id: string;
  /** The volume's scope. */
  readonly scope: string;
  /** The volume's name. */
  readonly name: string;
  /** Where the fork's files are (a path, or a URI for in-memory backends). */
  readonly mountPath: string;
  /** The version it was forked from, or `null` on a miss. */
  readonly baseVersionId: string | null;
  /** `hit`, `stale` or `miss`. */
  readonly result: AttachResult;
  /** The fork's capacity in bytes. */
  readonly capacityBytes: number;
  /** The size requested, in bytes. */
  readonly requestedBytes: number;
  /** The commit mode chosen at attach. */
  readonly commitMode: CommitMode;
  /** The fork record this handle was made from. */
  readonly record: Readonly<ForkRecord>;
  readonly #engine: ForkActions;

  /**
   * @param engine - the engine that acts on the fork
   * @param record - the fork's record
   */
  constructor(engine: ForkActions, record: ForkRecord) {
    this.#engine = engine;
    this.record = Object.freeze({ ...record });
    this.id = record.id;
    this.scope = record.scope;
    this.name = record.name;
    this.mountPath = record.mountPath ?? '';
    this.baseVersionId = record.baseId;
    this.result = record.result;
    this.capacityBytes = record.capacityBytes;
    this.requestedBytes = record.requestedBytes;
    this.commitMode = record.commitMode;
  }

  /** Commits the fork as the volume's new head. See {@link CacheVolumes.commit}. */
  commit(): Promise<VersionRecord> {
    return this.#engine.commit(this.id);
  }

  /** Abandons the fork. See {@link CacheVolumes.abandon}. */
  abandon(): Promise<void> {
    return this.#engine.abandon(this.id);
  }

  /**
   * Commits or abandons as the commit mode says for this exit code. See
   * {@link CacheVolumes.finish}.
   *
   * @param exitCode - the job's exit code
   */
  finish(exitCode: number): Promise<FinishOutcome> {
    return this.#engine.finish(this.id, exitCode);
  }

  /**
   * Renews the lease. See {@link CacheVolumes.heartbeat}.
   *
   * @param leaseMs - lease length from now
   */
  heartbeat(leaseMs?: number): Promise<number> {
    return this.#engine.heartbeat(this.id, leaseMs);
  }
}
