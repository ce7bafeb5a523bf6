import type { AttachResult, CommitMode, ForkRecord, ForkSource, VersionRecord } from '../model/state.js';
import type { LinkOptions, LinkResult, UnlinkResult } from './linking/options.js';
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
  /** Links cache paths to a fork. */
  link(forkId: string, paths: readonly string[], options: LinkOptions): Promise<LinkResult[]>;
  /** Undoes a fork's links. */
  unlink(forkId: string, options?: { capture?: boolean }): Promise<UnlinkResult[]>;
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
  /** The version of this volume it was forked from, or `null` on a miss. */
  readonly baseVersionId: string | null;
  /** `hit`, `stale` or `miss`: how this volume served the attach (a fork of a fallback is a `miss`). */
  readonly result: AttachResult;
  /**
   * Where the data came from when this volume had nothing usable and a fallback volume had
   * (see `AttachOptions.fallbacks`): its scope, name, version and `hit`/`stale`; `null` when the
   * data is this volume's own, or the fork started empty.
   */
  readonly source: Readonly<ForkSource> | null;
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
    this.source = record.source ? Object.freeze({ ...record.source }) : null;
    this.result = record.result;
    this.capacityBytes = record.capacityBytes;
    this.requestedBytes = record.requestedBytes;
    this.commitMode = record.commitMode;
  }

  /**
   * Links cache paths into place so that tools see the fork's files there: each path (relative
   * to `options.workdir`, or absolute, under `options.instanceRoot`) shows the fork's
   * sub-directory of that name.
   *
   * - On Linux, when the process may mount (root or CAP_SYS_ADMIN), a **bind mount** of the
   *   sub-directory onto the path: a real directory to every tool (`npm ci` empties and refills
   *   it, and the next commit holds the fresh install). Elsewhere, or when `mount` fails, a
   *   **symlink**; a tool that replaces the symlink by a directory (npm does) has that directory
   *   captured into the fork when it is committed (see {@link ForkHandle.unlink}).
   * - Nothing is followed out of the fork: a sub-directory component that is a symlink or file
   *   in the fork's data is replaced by an empty directory (reported in `repaired`); parents of
   *   the path that leave `workdir` through a symlink are refused.
   * - The same link again is `unchanged`; a link or mount left by an ended fork (a crashed job)
   *   is removed and `relinked`; one of another **live** fork (a second job in the same working
   *   directory) is refused with `CONFLICT`.
   * - A file or non-empty directory in the way is moved aside with `replace` (never deleted),
   *   and refused otherwise (`ALREADY_EXISTS`).
   * - Refusals skip the path (`action: "skipped"`, so the job runs it uncached) unless
   *   `strict`, which throws.
   *
   * Each link is recorded in the fork's record before it is made; `finish`, `commit`,
   * `abandon` and `reconcile()` undo recorded links, also from another process and after a
   * crash.
   *
   * @param paths - cache paths as written, e.g. `node_modules` or `/root/.cache`
   * @param options - see {@link LinkOptions}
   * @returns what was done for each path, in order
   *
   * @example
   * ```ts
   * const fork = await volumes.attach('deps', { scope: 'my-pipeline' })
   * const [link] = await fork.link(['node_modules'], { workdir: process.cwd() })
   * console.log(link.method) // 'bind' as root on Linux, else 'symlink'
   * // ... run npm ci ...
   * const outcome = await fork.finish(0) // unmounts or unlinks, then commits
   * ```
   */
  link(paths: readonly string[], options: LinkOptions): Promise<LinkResult[]> {
    return this.#engine.link(this.id, paths, options);
  }

  /**
   * Undoes the fork's links: unmounts bind mounts, removes symlinks. A symlink that the tool
   * replaced by a real directory is, with `capture` (the default), moved into the fork in place
   * of its sub-directory (a rename on the same filesystem, else a copy and then removal of the
   * original) and reported as `captured`; without it the directory is left in place (`left`).
   * `commit`/`finish` call it with capture when they commit, `abandon` without.
   *
   * @param options - `capture` (default `true`)
   * @returns what was done for each link
   */
  unlink(options: { capture?: boolean } = {}): Promise<UnlinkResult[]> {
    return this.#engine.unlink(this.id, options);
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
