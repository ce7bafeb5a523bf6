import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Backend, ForkOptions } from '../contracts/backend.js';
import type { Store } from '../contracts/store.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { type Policy, resolvePolicy } from '../model/policy.js';
import { expiredForks, planRetention } from '../model/retention.js';
import { type Selection, selectParent } from '../model/selection.js';
import {
  type CommitMode,
  type ForkRecord,
  isLive,
  type State,
  type VersionRecord,
  type VolumeKey,
  volumeKeyString,
} from '../model/state.js';
import { type VolumeStats, volumeStats } from '../model/stats.js';
import {
  beginAbandon,
  beginAttach,
  beginCommit,
  beginRemoveVersion,
  completeAbandon,
  completeAttach,
  completeCommit,
  completeRemoveVersion,
  dropEmptyVolume,
  getFork,
  pruneEndedForks,
  renewLease,
  type VersionRef,
} from '../model/transitions.js';
import { validateLabel, validateName } from '../names.js';
import { parseOptions } from '../options.js';
import { parseSize } from '../size.js';
import { type AbandonReason, type CacheVolumeEvents, Emitter, type Listener } from './events.js';
import { ForkHandle } from './fork-handle.js';
import {
  type AttachOptions,
  attachOptionsSchema,
  type EngineSettings,
  engineSettingsSchema,
} from './options.js';
import type { FinishOutcome, GcReport, ReconcileReport } from './reports.js';

/** What {@link CacheVolumes} is built from. */
export interface CacheVolumesOptions extends EngineSettings {
  /** Where files live. */
  backend: Backend;
  /** Where the model's state lives. */
  store: Store;
  /**
   * The clock, in ms since epoch.
   * @defaultValue `Date.now`
   */
  clock?: () => number;
  /**
   * Makes new fork and version ids (must satisfy `validateId` and never repeat).
   * @defaultValue time + random, e.g. `f-lx2k3a9-9f2c4e1a7b3d`
   */
  newId?: (kind: 'fork' | 'version') => string;
}

/** Options for {@link CacheVolumes.reconcile}. */
export interface ReconcileOptions {
  /**
   * Treat every in-flight attach and commit as interrupted, even if its lease has not run out.
   * Use only when no other process is using the store (after a host restart, in tests).
   * @defaultValue false
   */
  force?: boolean;
}

function defaultId(kind: 'fork' | 'version'): string {
  return `${kind === 'fork' ? 'f' : 'v'}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/**
 * The engine: binds a {@link Store}, a {@link Backend} and a clock, and runs every volume
 * operation as intent → backend step → outcome, so that `reconcile()` can repair a crash at
 * any point without losing the last good head.
 *
 * Work on one volume runs one at a time in this process (p-queue); backend work across volumes
 * is bounded by `concurrency`. Several processes may share a store: every state change is an
 * atomic read-modify-write, and forks can be looked up by id from any of them.
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({ backend: createMemoryBackend(), store: createMemoryStore() })
 * const fork = await volumes.attach('node-modules', { scope: 'my-pipeline', job: 'build-1' })
 * // ... run the job in fork.mountPath ...
 * await fork.finish(0) // commits: the next attach gets this version
 * ```
 */
export class CacheVolumes {
  /** The backend in use. */
  readonly backend: Backend;
  /** The store in use. */
  readonly store: Store;
  /** This engine's host name. */
  readonly host: string;
  /** The effective selection and retention policy. */
  readonly policy: Readonly<Policy>;

  readonly #clock: () => number;
  readonly #newId: (kind: 'fork' | 'version') => string;
  readonly #leaseMs: number;
  readonly #keepEndedMs: number;
  readonly #events = new Emitter();
  readonly #volumeQueues = new Map<string, PQueue>();
  readonly #backendQueue: PQueue;

  /**
   * @param options - backend, store, and settings
   * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for bad settings
   */
  constructor(options: CacheVolumesOptions) {
    const { backend, store, clock, newId, ...settings } = options;
    if (!backend || !store) {
      throw new CacheVolumeError('INVALID_ARGUMENT', 'CacheVolumes needs both a `backend` and a `store`.');
    }
    const parsed = parseOptions(engineSettingsSchema, settings, 'CacheVolumes options');
    this.backend = backend;
    this.store = store;
    this.host = validateLabel(parsed.host, 'host');
    this.policy = Object.freeze(
      resolvePolicy({ ...parsed.policy, transfer: parsed.policy.transfer ?? backend.capabilities.transfer }),
    );
    this.#clock = clock ?? Date.now;
    this.#newId = newId ?? defaultId;
    this.#leaseMs = parsed.leaseMs;
    this.#keepEndedMs = parsed.keepEndedMs;
    this.#backendQueue = new PQueue({ concurrency: parsed.concurrency });
  }

  /**
   * Subscribes to an engine event (`attach`, `commit`, `abandon`, `remove`, `progress`).
   *
   * @param event - the event name
   * @param listener - called with the payload
   * @returns a function that unsubscribes
   */
  on<E extends keyof CacheVolumeEvents>(event: E, listener: Listener<E>): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Attaches a private fork of the volume's best available version (the head when it can), or
   * an empty fork on a miss.
   *
   * @param name - the volume's name
   * @param options - scope, size, job, host, commit mode, ...
   * @returns a handle to the fork
   * @throws `INVALID_ARGUMENT` for bad names or options; `NOT_FOUND` on a miss with
   *   `failOnMiss`; backend errors (nothing is left behind: the fork is abandoned)
   */
  async attach(name: string, options: AttachOptions = {}): Promise<ForkHandle> {
    const opts = parseOptions(attachOptionsSchema, options, 'attach options');
    const key: VolumeKey = { scope: validateName(opts.scope, 'scope'), name: validateName(name) };
    const requestedBytes = parseSize(opts.size);
    const host = opts.host === undefined ? this.host : validateLabel(opts.host, 'host');
    const job = validateLabel(opts.job, 'job');
    const forkId = this.#newId('fork');

    return this.#onVolume(key, async () => {
      const { fork, selection } = await this.store.update((state) => {
        const begun = beginAttach(state, {
          ...key,
          forkId,
          host,
          job,
          requestedBytes,
          commitMode: opts.commit as CommitMode,
          leaseMs: opts.leaseMs ?? this.#leaseMs,
          now: this.#clock(),
          policy: this.policy,
        });
        if (opts.failOnMiss && begun.selection.result === 'miss') {
          throw new CacheVolumeError(
            'NOT_FOUND',
            `Volume "${key.name}" (scope "${key.scope}") has no usable version and failOnMiss is set.`,
            {
              details: { ...key, reason: begun.selection.reason },
            },
          );
        }
        return { state: begun.state, result: begun };
      });
      let mountPath: string;
      try {
        const forkOptions: ForkOptions = {
          capacityBytes: fork.capacityBytes,
          onProgress: (p) => this.#events.emit('progress', { forkId, ...p }),
        };
        ({ mountPath } = await this.#backendStep(() =>
          fork.baseId
            ? this.backend.forkVersion(forkId, fork.baseId, forkOptions)
            : this.backend.createFork(forkId, forkOptions),
        ));
      } catch (error) {
        await this.#abandonNow(forkId, 'attach-failed').catch(() => undefined);
        throw error;
      }
      let attached: ForkRecord;
      try {
        attached = await this.#update((state) => {
          const next = completeAttach(state, forkId, mountPath);
          return { state: next, result: getFork(next, forkId) };
        });
      } catch (error) {
        if (isCacheVolumeError(error, 'CONFLICT'))
          await this.#abandonNow(forkId, 'attach-failed').catch(() => undefined);
        throw error;
      }
      this.#events.emit('attach', { fork: attached, selection });
      return new ForkHandle(this, attached);
    });
  }

  /**
   * Tells what an attach would get now, without attaching anything.
   *
   * @param name - the volume's name
   * @param options - `scope` and `host`
   */
  async lookup(name: string, options: { scope?: string; host?: string } = {}): Promise<Selection> {
    const key = { scope: validateName(options.scope ?? 'default', 'scope'), name: validateName(name) };
    const host = options.host === undefined ? this.host : validateLabel(options.host, 'host');
    const state = await this.store.read();
    return selectParent(
      state.volumes[volumeKeyString(key)],
      Object.values(state.forks),
      { host, now: this.#clock() },
      this.policy,
    );
  }

  /**
   * Looks up a fork by id, from any process that shares the store.
   *
   * @param forkId - the id `attach()` returned
   * @throws `NOT_FOUND` for an unknown id
   */
  async fork(forkId: string): Promise<ForkHandle> {
    const state = await this.store.read();
    return new ForkHandle(this, getFork(state, forkId));
  }

  /** Every fork record the store holds (live ones, and ended ones until pruned). */
  async forks(): Promise<ForkRecord[]> {
    return Object.values((await this.store.read()).forks);
  }

  /**
   * Commits a fork: it becomes the volume's head ("last write" wins, by completion order).
   *
   * @param forkId - the fork
   * @returns the new version
   * @throws `CONFLICT` for a double commit, a commit after abandon, or a fork attached with
   *   commit mode `never`; `NOT_FOUND` for an unknown id
   */
  async commit(forkId: string): Promise<VersionRecord> {
    const fork = await this.#peekFork(forkId);
    if (fork.commitMode === 'never') {
      throw new CacheVolumeError(
        'CONFLICT',
        `Fork "${forkId}" was attached with commit mode "never"; abandon it instead.`,
        {
          details: { forkId },
        },
      );
    }
    return this.#onVolume(fork, () => this.#commitNow(forkId));
  }

  /**
   * Abandons a fork: throws its changes away. No version or head changes. Abandoning twice is
   * a no-op.
   *
   * @param forkId - the fork
   * @throws `CONFLICT` when the fork was committed; `NOT_FOUND` for an unknown id
   */
  async abandon(forkId: string): Promise<void> {
    const fork = await this.#peekFork(forkId);
    await this.#onVolume(fork, () => this.#abandonNow(forkId, 'requested'));
  }

  /**
   * Ends a fork the way its commit mode says for this exit code: `on-success` commits on 0 and
   * abandons otherwise; `always` commits; `never` discards; `on-change` skips the commit when
   * nothing changed (where the backend can tell); `if-missing` commits only after a miss.
   *
   * @param forkId - the fork
   * @param exitCode - the job's exit code
   */
  async finish(forkId: string, exitCode: number): Promise<FinishOutcome> {
    if (!Number.isInteger(exitCode)) {
      throw new CacheVolumeError('INVALID_ARGUMENT', `Exit code must be an integer, got ${exitCode}.`);
    }
    const fork = await this.#peekFork(forkId);
    return this.#onVolume(fork, async () => {
      const skip = await this.#skipReason(fork, exitCode);
      if (skip) {
        await this.#abandonNow(forkId, skip);
        return { action: skip === 'failed' ? 'abandoned' : 'skipped', version: null };
      }
      return { action: 'committed', version: await this.#commitNow(forkId) };
    });
  }

  /**
   * Renews a fork's lease so `gc()` does not abandon it.
   *
   * @param forkId - the fork
   * @param leaseMs - the new lease length from now (default: the engine's)
   * @returns the new lease end (ms since epoch)
   */
  async heartbeat(forkId: string, leaseMs = this.#leaseMs): Promise<number> {
    const expiresAt = this.#clock() + leaseMs;
    return this.#update((state) => {
      const next = renewLease(state, forkId, expiresAt);
      return { state: next, result: getFork(next, forkId).expiresAt };
    });
  }

  /**
   * Housekeeping: abandons forks whose lease ran out, repairs interrupted operations whose
   * lease ran out, removes versions by retention (idle past the retention period, then least
   * recently used while over `maxTotalBytes`; never one a live fork depends on), and prunes old
   * fork records.
   */
  async gc(): Promise<GcReport> {
    const now = this.#clock();
    const expired: string[] = [];
    for (const fork of expiredForks(await this.store.read(), now)) {
      await this.#onVolume(fork, () => this.#abandonNow(fork.id, 'lease-expired'))
        .then(() => expired.push(fork.id))
        .catch(() => undefined);
    }
    const reconcile = await this.#repairIntents(false);
    const removedVersions: VersionRef[] = [];
    for (const planned of planRetention(await this.store.read(), this.#clock(), this.policy)) {
      const removed = await this.#onVolume(planned, () =>
        this.#removeVersionNow(planned, planned.reason),
      ).catch((error) => {
        if (isCacheVolumeError(error, 'CONFLICT')) return false; // a fork took it meanwhile
        throw error;
      });
      if (removed)
        removedVersions.push({ scope: planned.scope, name: planned.name, versionId: planned.versionId });
    }
    const cutoff = this.#clock() - this.#keepEndedMs;
    const prunedForks = await this.#update((state) => {
      const next = pruneEndedForks(state, cutoff);
      return { state: next, result: Object.keys(state.forks).length - Object.keys(next.forks).length };
    });
    return { expiredForks: expired, removedVersions, prunedForks, reconcile };
  }

  /**
   * Repairs what crashes left: completes interrupted commits (the backend commit is
   * idempotent), abandons interrupted attaches, finishes interrupted abandons and removals,
   * then removes backend entries that no record owns. In-flight attaches and commits of other
   * processes are left alone until their lease runs out, unless `force` is set.
   *
   * @param options - `force`
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const report = await this.#repairIntents(options.force ?? false);
    // List before reading the state: anything the backend holds was recorded as an intent
    // before it was made, so it is in a state read afterwards.
    const entries = await this.#backendStep(() => this.backend.list());
    const state = await this.store.read();
    const liveForks = new Set<string>();
    const versions = new Set<string>();
    for (const fork of Object.values(state.forks)) {
      if (isLive(fork)) liveForks.add(fork.id);
      if (fork.versionId) versions.add(fork.versionId);
    }
    for (const volume of Object.values(state.volumes))
      for (const id of Object.keys(volume.versions)) versions.add(id);
    for (const entry of entries) {
      const owned = entry.kind === 'fork' ? liveForks.has(entry.id) : versions.has(entry.id);
      if (owned) continue;
      try {
        await this.#backendStep(() =>
          entry.kind === 'fork' ? this.backend.discardFork(entry.id) : this.backend.removeVersion(entry.id),
        );
        report.leftovers.push(entry);
      } catch (error) {
        report.errors.push({ id: entry.id, error: String(error) });
      }
    }
    return report;
  }

  /**
   * Removes a whole volume: every version, after abandoning its live forks.
   *
   * @param name - the volume's name
   * @param options - `scope`
   * @returns the ids of the versions removed
   */
  async removeVolume(name: string, options: { scope?: string } = {}): Promise<string[]> {
    const key = { scope: validateName(options.scope ?? 'default', 'scope'), name: validateName(name) };
    return this.#onVolume(key, async () => {
      const state = await this.store.read();
      for (const fork of Object.values(state.forks)) {
        if (fork.scope === key.scope && fork.name === key.name && isLive(fork))
          await this.#abandonNow(fork.id, 'requested');
      }
      const volume = state.volumes[volumeKeyString(key)];
      if (!volume)
        throw new CacheVolumeError('NOT_FOUND', `No volume "${key.name}" in scope "${key.scope}".`, {
          details: key,
        });
      const removed: string[] = [];
      for (const versionId of Object.keys(volume.versions)) {
        await this.#removeVersionNow({ ...key, versionId }, 'requested');
        removed.push(versionId);
      }
      await this.#update((s) => ({ state: dropEmptyVolume(s, key), result: undefined }));
      return removed;
    });
  }

  /** Per-volume statistics: hit/stale/miss counts and ratio, versions, sizes, live forks. */
  async stats(): Promise<VolumeStats[]> {
    return volumeStats(await this.store.read());
  }

  /** Reads the raw state (for tools and tests). */
  async state(): Promise<State> {
    return this.store.read();
  }

  /** Waits until every queued operation of this engine has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.#volumeQueues.values()].map((q) => q.onIdle()));
    await this.#backendQueue.onIdle();
  }

  // ---- internals -------------------------------------------------------------------------

  async #skipReason(fork: ForkRecord, exitCode: number): Promise<AbandonReason | null> {
    const mode = fork.commitMode;
    if (mode === 'never') return 'never';
    if (exitCode !== 0 && mode !== 'always') return 'failed';
    if (mode === 'if-missing' && fork.result !== 'miss') return 'not-missing';
    if (mode === 'on-change' && this.backend.capabilities.changeDetection && this.backend.hasChanges) {
      const changed = await this.#backendStep(() =>
        (this.backend.hasChanges as (id: string) => Promise<boolean>)(fork.id),
      );
      if (!changed) return 'unchanged';
    }
    return null;
  }

  async #peekFork(forkId: string): Promise<ForkRecord> {
    return getFork(await this.store.read(), forkId);
  }

  async #commitNow(forkId: string): Promise<VersionRecord> {
    const versionId = this.#newId('version');
    await this.#update((state) => ({
      state: beginCommit(state, forkId, versionId, this.#clock() + this.#leaseMs),
      result: undefined,
    }));
    let usedBytes: number;
    try {
      ({ usedBytes } = await this.#backendStep(() => this.backend.commitFork(forkId, versionId)));
    } catch (error) {
      await this.#abandonNow(forkId, 'commit-failed').catch(() => undefined);
      throw error;
    }
    return this.#finishCommit(forkId, usedBytes);
  }

  async #finishCommit(forkId: string, usedBytes: number): Promise<VersionRecord> {
    const { fork, version } = await this.#update((state) => {
      const done = completeCommit(state, forkId, usedBytes, this.#clock());
      return { state: done.state, result: { fork: getFork(done.state, forkId), version: done.version } };
    });
    this.#events.emit('commit', { fork, version });
    return version;
  }

  async #abandonNow(forkId: string, reason: AbandonReason): Promise<void> {
    await this.#update((state) => ({ state: beginAbandon(state, forkId), result: undefined }));
    await this.#backendStep(() => this.backend.discardFork(forkId));
    const fork = await this.#update((state) => {
      const next = completeAbandon(state, forkId, this.#clock());
      return { state: next, result: getFork(next, forkId) };
    });
    this.#events.emit('abandon', { fork, reason });
  }

  async #removeVersionNow(ref: VersionRef, reason: CacheVolumeEvents['remove']['reason']): Promise<boolean> {
    await this.#update((state) => ({ state: beginRemoveVersion(state, ref), result: undefined }));
    await this.#backendStep(() => this.backend.removeVersion(ref.versionId));
    await this.#update((state) => ({ state: completeRemoveVersion(state, ref), result: undefined }));
    this.#events.emit('remove', { version: ref, reason });
    return true;
  }

  async #repairIntents(force: boolean): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      committed: [],
      abandoned: [],
      removedVersions: [],
      leftovers: [],
      errors: [],
    };
    const state = await this.store.read();
    const now = this.#clock();
    const attempt = async (id: string, key: VolumeKey, work: () => Promise<void>) => {
      try {
        await this.#onVolume(key, work);
      } catch (error) {
        report.errors.push({ id, error: String(error) });
      }
    };
    for (const fork of Object.values(state.forks)) {
      const stale = force || fork.expiresAt <= now;
      if (fork.state === 'abandoning' || (fork.state === 'creating' && stale)) {
        await attempt(fork.id, fork, async () => {
          await this.#abandonNow(fork.id, 'reconcile');
          report.abandoned.push(fork.id);
        });
      } else if (fork.state === 'committing' && stale) {
        await attempt(fork.id, fork, async () => {
          if (await this.#retryCommit(fork)) report.committed.push(fork.id);
          else report.abandoned.push(fork.id);
        });
      }
    }
    for (const volume of Object.values(state.volumes)) {
      for (const version of Object.values(volume.versions)) {
        if (version.state !== 'removing') continue;
        const ref = { scope: volume.scope, name: volume.name, versionId: version.id };
        await attempt(version.id, volume, async () => {
          await this.#removeVersionNow(ref, 'requested');
          report.removedVersions.push(version.id);
        });
      }
    }
    return report;
  }

  async #retryCommit(fork: ForkRecord): Promise<boolean> {
    try {
      const { usedBytes } = await this.#backendStep(() =>
        this.backend.commitFork(fork.id, fork.versionId as string),
      );
      await this.#finishCommit(fork.id, usedBytes);
      return true;
    } catch (error) {
      if (!isCacheVolumeError(error, 'NOT_FOUND')) throw error;
      await this.#abandonNow(fork.id, 'reconcile');
      return false;
    }
  }

  #update<T>(fn: (state: State) => { state: State; result: T }): Promise<T> {
    return this.store.update(fn);
  }

  #backendStep<T>(work: () => Promise<T>): Promise<T> {
    return this.#backendQueue.add(work, { throwOnTimeout: true });
  }

  #onVolume<T>(key: VolumeKey, work: () => Promise<T>): Promise<T> {
    const id = volumeKeyString(key);
    let queue = this.#volumeQueues.get(id);
    if (!queue) {
      const created = new PQueue({ concurrency: 1 });
      created.on('idle', () => {
        if (this.#volumeQueues.get(id) === created) this.#volumeQueues.delete(id);
      });
      this.#volumeQueues.set(id, created);
      queue = created;
    }
    return queue.add(work, { throwOnTimeout: true });
  }
}
