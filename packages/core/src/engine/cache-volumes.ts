import { randomBytes } from 'node:crypto';
import type { Backend, TransferFormat } from '../contracts/backend.js';
import type { ObjectStore } from '../contracts/object-store.js';
import type { Store } from '../contracts/store.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { isBorrowed } from '../model/fallback.js';
import { restorePlan } from '../model/objects.js';
import { type Policy, resolvePolicy } from '../model/policy.js';
import { retentionPlanner } from '../model/retention.js';
import { headOf, type Selection, selectParent } from '../model/selection.js';
import type {
  CommitMode,
  ForkRecord,
  ForkSource,
  VersionRecord,
  VolumeKey,
  VolumeSlice,
} from '../model/state.js';
import { isLive, volumeKeyString } from '../model/state.js';
import { type VolumeStats, volumeStats } from '../model/stats.js';
import { dropEmptyVolume, getFork, recordLinks, renewLease, type VersionRef } from '../model/transitions.js';
import { validateId, validateLabel, validateName } from '../names.js';
import { parseOptions } from '../options.js';
import { parseSize } from '../size.js';
import type { EngineContext } from './context.js';
import { type AbandonReason, type CacheVolumeEvents, Emitter, type Listener } from './events.js';
import { Fleet, type FleetOptions, type ObjectsTier } from './fleet.js';
import { ForkHandle } from './fork-handle.js';
import { HostCopies, repairCopies } from './host-copies.js';
import { holderRuns } from './linking/holder.js';
import { linkFork, unlinkFork } from './linking/link-fork.js';
import type { LinkOptions, LinkResult, UnlinkResult } from './linking/options.js';
import { measureEstimates } from './measure-estimates.js';
import {
  deleteUnneededObjects,
  hasUnneededObjects,
  type ObjectTier,
  type RestoreReport,
  restoreVersion,
  type UploadReport,
  uploadVersion,
} from './objects.js';
import {
  type AttachOptions,
  attachOptionsSchema,
  type EngineSettings,
  engineSettingsSchema,
  type FallbackVolume,
  type ObjectTierOptions,
} from './options.js';
import { WorkQueues } from './queues.js';
import { allSlices, emptyReconcileReport, repairDue, sweepBackend } from './recovery.js';
import type { FinishOutcome, GcReport, ReconcileReport } from './reports.js';
import { abandonFork, attachFork, commitFork, removePlanned, removeVersion } from './steps.js';
import {
  type OpenedVersion,
  openVersion,
  type PullReport,
  pullVersion,
  type SendRequest,
  type VersionSource,
} from './transfer.js';

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
  /**
   * How this host reaches versions that other hosts hold: their agents, the attach's time
   * budget for a pull. Without it, attaches use only this host's versions (see
   * `docs/fleet.md`).
   */
  fleet?: FleetOptions;
  /**
   * The object store tier, the durable tier between hosts: after each commit on this host the
   * new version is uploaded to `store` in the background (see {@link CacheVolumes.upload}), and
   * {@link CacheVolumes.restore} receives versions this host lacks from it. Needs a backend with
   * the `transfer` capability.
   * @defaultValue none: nothing is uploaded
   */
  objects?: ObjectTierOptions;
}

/** Options for {@link CacheVolumes.upload} and {@link CacheVolumes.restore}. */
export interface ObjectVersionOptions {
  /**
   * The volume's scope.
   * @defaultValue `"default"`
   */
  scope?: string;
  /**
   * The version.
   * @defaultValue the volume's head
   */
  versionId?: string;
}

/** Options for {@link CacheVolumes.reconcile}. */
export interface ReconcileOptions {
  /**
   * Treat every in-flight attach, commit, abandon and removal as interrupted, even if its lease
   * has not run out. Use only when no other process is using the store (after a host restart,
   * in tests).
   * @defaultValue false
   */
  force?: boolean;
  /**
   * Remove backend data that no record accounts for (it is reported as `unaccounted` and kept
   * otherwise). Use it after a lost database, once you know the data is not wanted.
   * @defaultValue the value of `force`
   */
  removeUnaccounted?: boolean;
}

/** Options for {@link CacheVolumes.lookup}. */
export interface LookupOptions {
  /**
   * The volume's scope.
   * @defaultValue `"default"`
   */
  scope?: string;
  /**
   * The requesting host.
   * @defaultValue the engine's host
   */
  host?: string;
  /** Fallback volumes, as `AttachOptions.fallbacks` takes them. */
  fallbacks?: FallbackVolume[];
}

/** What {@link CacheVolumes.lookup} tells: the volume's own selection, and a fallback's. */
export interface Lookup extends Selection {
  /** On a miss, the fallback version an attach would fork (as `ForkHandle.source`); else `null`. */
  source: ForkSource | null;
}

/** Options for {@link CacheVolumes.gc}. */
export interface GcOptions {
  /**
   * Remove backend data that no record accounts for (reported as `unaccounted` and kept
   * otherwise).
   * @defaultValue false
   */
  removeUnaccounted?: boolean;
}

function defaultId(kind: 'fork' | 'version'): string {
  return `${kind === 'fork' ? 'f' : 'v'}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/**
 * The engine: binds a {@link Store}, a {@link Backend} and a clock, and runs every volume
 * operation as intent → backend step → outcome, so that `reconcile()` can repair a crash at
 * any point without losing the last good head.
 *
 * Each operation touches one volume's slice in the store, so its cost does not depend on how
 * many volumes exist. Work on one volume runs one at a time in this process (p-queue); backend
 * work across volumes is bounded by `concurrency`. Any number of processes and hosts may share
 * a store: every state change is an atomic per-volume transaction, and forks can be looked up
 * by id from any of them.
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
  /** The object store tier's store (`options.objects.store`), or `null` without one. */
  readonly objectStore: ObjectStore | null;

  readonly #ctx: EngineContext;
  readonly #keepEndedMs: number;
  readonly #events = new Emitter();
  readonly #fleet: Fleet | undefined;
  readonly #objects: ObjectTier | null;
  /** Uploads to the object store: one at a time per volume, beside the volume's other work. */
  readonly #uploads = new WorkQueues(1);

  /**
   * @param options - backend, store, and settings
   * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for bad settings
   */
  constructor(options: CacheVolumesOptions) {
    const { backend, store, clock, newId, fleet, ...settings } = options;
    if (!backend || !store) {
      throw new CacheVolumeError('INVALID_ARGUMENT', 'CacheVolumes needs both a `backend` and a `store`.');
    }
    const parsed = parseOptions(engineSettingsSchema, settings, 'CacheVolumes options');
    this.backend = backend;
    this.store = store;
    this.host = validateLabel(parsed.host, 'host');
    // Not the backend's `transfer` capability: selecting a version this host lacks would find
    // no data and pass it over as lost. Versions move between hosts through `fleet` instead.
    this.policy = Object.freeze(resolvePolicy(parsed.policy));
    this.#keepEndedMs = parsed.keepEndedMs;
    this.#objects = parsed.objects
      ? {
          store: parsed.objects.store,
          fullEvery: parsed.objects.fullEvery,
          format: parsed.objects.format as TransferFormat | undefined,
        }
      : null;
    this.objectStore = this.#objects?.store ?? null;
    this.#ctx = {
      backend,
      store,
      queues: new WorkQueues(parsed.concurrency),
      events: this.#events,
      policy: this.policy,
      leaseMs: parsed.leaseMs,
      host: this.host,
      clock: clock ?? Date.now,
      newId: newId ?? defaultId,
      releaseLinks: (fork) => this.#release(fork, false).then(() => undefined),
    };
    const tier = this.#objects;
    const fromObjects: ObjectsTier | undefined = tier
      ? {
          restorable: (volume, version) =>
            restorePlan(volume, version.id, this.host, backend.transferFormats ?? []) !== null,
          pull: (key, versionId) => restoreVersion(this.#ctx, tier, this.host, key, versionId),
        }
      : undefined;
    // An object store alone is enough for a cold host to restore a head on attach.
    this.#fleet =
      fleet || fromObjects
        ? new Fleet(this.#ctx, this.host, validateFleet(fleet ?? {}, this.host), fromObjects)
        : undefined;
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
   * on a miss a fork of the first `fallbacks` volume that has a usable version (see
   * {@link ForkHandle.source}), or else an empty fork.
   *
   * @param name - the volume's name
   * @param options - scope, size, job, host, commit mode, fallbacks, ...
   * @returns a handle to the fork
   * @throws `INVALID_ARGUMENT` for bad names or options; `NOT_FOUND` on a miss with
   *   `failOnMiss` when no fallback had data either; backend errors (nothing is left behind:
   *   the fork is abandoned)
   */
  async attach(name: string, options: AttachOptions = {}): Promise<ForkHandle> {
    const opts = parseOptions(attachOptionsSchema, options, 'attach options');
    const key: VolumeKey = { scope: validateName(opts.scope, 'scope'), name: validateName(name) };
    const request = {
      forkId: this.#ctx.newId('fork'),
      host: opts.host === undefined ? this.host : validateLabel(opts.host, 'host'),
      job: validateLabel(opts.job, 'job'),
      requestedBytes: parseSize(opts.size),
      commitMode: opts.commit as CommitMode,
      leaseMs: opts.leaseMs ?? this.#ctx.leaseMs,
      failOnMiss: opts.failOnMiss,
      fallbacks: opts.fallbacks.map((fallback) => fallbackKey(fallback, key.scope)),
    };
    // Outside the volume's queue: a pull must not hold up this volume's other operations here.
    await this.#fleet?.prepare(key, request.host).catch((error: unknown) => {
      this.#events.emit('warning', {
        message: `Could not weigh versions held by other hosts: ${String(error)}`,
        error: isCacheVolumeError(error) ? error : new CacheVolumeError('INTERNAL', String(error)),
      });
    });
    const { fork } = await this.#onVolume(key, () => attachFork(this.#ctx, key, request));
    return new ForkHandle(this, fork);
  }

  /**
   * Tells what an attach would get now, without attaching anything (nor borrowing): the
   * volume's own selection, and on a miss with `fallbacks` the version the first fallback volume
   * that has one would give (`source`, `null` otherwise).
   *
   * @param name - the volume's name
   * @param options - `scope`, `host` and `fallbacks` (as for `attach`)
   */
  async lookup(name: string, options: LookupOptions = {}): Promise<Lookup> {
    const key = { scope: validateName(options.scope ?? 'default', 'scope'), name: validateName(name) };
    const host = options.host === undefined ? this.host : validateLabel(options.host, 'host');
    const fallbacks = parseOptions(
      attachOptionsSchema.pick({ fallbacks: true }),
      { fallbacks: options.fallbacks },
      'lookup options',
    ).fallbacks.map((fallback) => fallbackKey(fallback, key.scope));
    const select = async (volume: VolumeKey) => {
      const slice = await this.store.read(volume);
      const request = { host, now: this.#ctx.clock() };
      return selectParent(slice.volume ?? undefined, Object.values(slice.forks), request, this.policy);
    };
    const own = await select(key);
    if (own.result !== 'miss') return { ...own, source: null };
    for (const fallback of fallbacks) {
      const { result, version } = await select(fallback);
      if (result === 'miss' || !version) continue;
      return { ...own, source: { ...fallback, versionId: version.id, result, usedBytes: version.usedBytes } };
    }
    return { ...own, source: null };
  }

  /**
   * Looks up a fork by id, from any process that shares the store.
   *
   * @param forkId - the id `attach()` returned
   * @throws `NOT_FOUND` for an unknown id
   */
  async fork(forkId: string): Promise<ForkHandle> {
    return new ForkHandle(this, await this.#findFork(forkId));
  }

  /** Every live fork, in volume order. */
  async forks(): Promise<ForkRecord[]> {
    const out: ForkRecord[] = [];
    for await (const slice of allSlices(this.#ctx)) out.push(...Object.values(slice.forks).filter(isLive));
    return out;
  }

  /**
   * Every volume's slice (its record, versions and live forks), page by page from the store.
   * For tools (`cachevol ls`) and tests.
   */
  volumes(): AsyncGenerator<VolumeSlice> {
    return allSlices(this.#ctx);
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
    const fork = await this.#findFork(forkId);
    if (fork.commitMode === 'never') {
      throw new CacheVolumeError(
        'CONFLICT',
        `Fork "${forkId}" was attached with commit mode "never"; abandon it instead.`,
        { details: { forkId } },
      );
    }
    await this.#release(fork, true);
    const version = await this.#onVolume(fork, () => commitFork(this.#ctx, fork, forkId));
    this.#uploadLater(fork, version);
    return version;
  }

  /**
   * Abandons a fork: throws its changes away. No version or head changes. Abandoning twice is
   * a no-op.
   *
   * @param forkId - the fork
   * @throws `CONFLICT` when the fork was committed; `NOT_FOUND` for an unknown id
   */
  async abandon(forkId: string): Promise<void> {
    const fork = await this.#findFork(forkId);
    await this.#release(fork, false).catch(() => undefined); // abandon anyway: nothing is kept
    await this.#onVolume(fork, () => abandonFork(this.#ctx, fork, forkId, 'requested'));
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
    const fork = await this.#findFork(forkId);
    return this.#onVolume(fork, async () => {
      const skip = await this.#skipReason(fork, exitCode);
      if (skip) {
        const links = await this.#release(fork, false).catch(() => []);
        await abandonFork(this.#ctx, fork, forkId, skip);
        return { action: skip === 'failed' ? 'abandoned' : 'skipped', version: null, ...withLinks(links) };
      }
      const links = await this.#release(fork, true);
      const version = await commitFork(this.#ctx, fork, forkId);
      this.#uploadLater(fork, version);
      return { action: 'committed', version, ...withLinks(links) };
    });
  }

  /**
   * Renews a fork's lease so `gc()` does not abandon it.
   *
   * @param forkId - the fork
   * @param leaseMs - the new lease length from now (default: the engine's)
   * @returns the new lease end (ms since epoch)
   */
  async heartbeat(forkId: string, leaseMs = this.#ctx.leaseMs): Promise<number> {
    const fork = await this.#findFork(forkId);
    const expiresAt = this.#ctx.clock() + leaseMs;
    return this.store.transact(
      fork,
      (slice) => {
        const next = renewLease(slice, forkId, expiresAt);
        return { slice: next, result: getFork(next, forkId).expiresAt };
      },
      { forks: [forkId] },
    );
  }

  /**
   * Links cache paths into place from an attached fork of this host (see {@link ForkHandle.link}).
   *
   * @param forkId - the fork
   * @param paths - cache paths as written: relative to `options.workdir`, or absolute (under
   *   `options.instanceRoot`)
   * @param options - working directory, instance root, method, replace, strict
   * @returns what was done for each path, in order
   */
  async link(forkId: string, paths: readonly string[], options: LinkOptions): Promise<LinkResult[]> {
    const fork = await this.#findFork(forkId);
    return linkFork(fork, paths, options, {
      now: this.#ctx.clock,
      isLive: async (id, linkPath) => {
        const other = await this.store.findFork(id).catch(() => null);
        if (other === null || !isLive(other)) return false;
        // A job runner that died without ending its fork (kill -9) leaves its links: on this
        // host, a link whose holder process is gone is taken over, not waited for.
        const holder = other.links?.find((link) => link.path === linkPath)?.holder;
        return !(holder && other.host === this.host && !holderRuns(holder));
      },
      record: (links) =>
        this.store.transact(
          fork,
          (slice) => ({ slice: recordLinks(slice, forkId, links), result: undefined }),
          {
            forks: [forkId],
          },
        ),
    });
  }

  /**
   * Undoes a fork's links (see {@link ForkHandle.unlink}); `commit`, `finish` and `abandon` do
   * it too.
   *
   * @param forkId - the fork
   * @param options - `capture`: move a directory that replaced a symlink into the fork
   *   (default `true`)
   * @returns what was done for each link
   */
  async unlink(forkId: string, options: { capture?: boolean } = {}): Promise<UnlinkResult[]> {
    return this.#release(await this.#findFork(forkId), options.capture ?? true);
  }

  /**
   * Housekeeping: abandons forks whose lease ran out, repairs interrupted operations whose
   * lease ran out, removes versions by retention (idle past the retention period, then least
   * recently used while over `maxTotalBytes`, weighed by measured sizes: a version whose size
   * the commit only estimated is measured first; never one a live fork depends on), prunes old
   * fork records, and reports backend data that no record accounts for (removing it only with
   * `removeUnaccounted`).
   *
   * @param options - `removeUnaccounted`
   */
  async gc(options: GcOptions = {}): Promise<GcReport> {
    const reconcile = emptyReconcileReport();
    await repairDue(this.#ctx, false, reconcile);
    const removedVersions: VersionRef[] = [];
    const now = this.#ctx.clock();
    const planner = retentionPlanner(now, this.policy);
    const measureFailed = (id: string, error: unknown) => reconcile.errors.push({ id, error: String(error) });
    const copies = new HostCopies(this.#ctx, now);
    const withObjects: VolumeKey[] = [];
    for await (const slice of allSlices(this.#ctx)) {
      copies.add(slice);
      if (this.#objects && hasUnneededObjects(slice, now)) withObjects.push(slice);
      planner.add(await measureEstimates(this.#ctx, slice, this.host, measureFailed));
    }
    await copies.repair(reconcile);
    for (const planned of planner.plan()) {
      try {
        const removed = await this.#onVolume(planned, () => removePlanned(this.#ctx, planned));
        if (removed) removedVersions.push(removed);
      } catch (error) {
        reconcile.errors.push({ id: planned.versionId, error: String(error) });
      }
    }
    // Objects last: retention above may have made more of them unneeded.
    const deletedObjects: string[] = [];
    if (this.#objects) {
      const later = this.#ctx.clock();
      const removedFrom = removedVersions.map(({ scope, name }) => ({ scope, name }));
      const keys = new Map([...withObjects, ...removedFrom].map((key) => [volumeKeyString(key), key]));
      for (const key of keys.values()) {
        try {
          const slice = await this.store.read(key);
          if (hasUnneededObjects(slice, later))
            deletedObjects.push(...(await deleteUnneededObjects(this.#ctx, this.#objects, key)));
        } catch (error) {
          reconcile.errors.push({ id: `${key.scope}/${key.name}`, error: String(error) });
        }
      }
    }
    const prunedForks = await this.store.pruneForks(this.#ctx.clock() - this.#keepEndedMs);
    await sweepBackend(this.#ctx, options.removeUnaccounted ?? false, reconcile);
    return { expiredForks: reconcile.expiredForks, removedVersions, prunedForks, deletedObjects, reconcile };
  }

  /**
   * Repairs what crashes left: abandons forks whose lease ran out, completes interrupted
   * commits (the backend commit is idempotent; a commit completed this way becomes head only
   * if no other commit of its volume finished after it began), abandons interrupted attaches,
   * finishes interrupted abandons and removals, then reports backend entries that no record
   * owns (removing them with `removeUnaccounted`). In-flight operations of other processes are
   * left alone until their lease runs out, unless `force` is set.
   *
   * @param options - `force`, `removeUnaccounted`
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const force = options.force ?? false;
    const report = emptyReconcileReport();
    await repairDue(this.#ctx, force, report);
    await repairCopies(this.#ctx, report);
    await sweepBackend(this.#ctx, options.removeUnaccounted ?? force, report);
    return report;
  }

  /**
   * Opens a version this host holds as a stream for another host (the sending side of
   * {@link CacheVolumes.pull}; an agent serves this to its peers). The stream carries only the
   * difference from one of `baseIds` where the backend can; `sha256` resolves once it was read.
   *
   * @param name - the volume's name
   * @param request - `scope`, the version, the receiver's bases and formats
   * @throws `NOT_FOUND` when this host holds no copy; `BACKEND_UNAVAILABLE` when the backend
   *   cannot send versions
   */
  async send(
    name: string,
    request: Omit<SendRequest, 'name' | 'scope'> & { scope?: string },
  ): Promise<OpenedVersion> {
    const key = { scope: validateName(request.scope ?? 'default', 'scope'), name: validateName(name) };
    return openVersion(this.#ctx, this.host, {
      ...request,
      ...key,
      versionId: validateId(request.versionId, 'version id'),
    });
  }

  /**
   * Copies a version that other hosts hold to this host, from `from` (another host's `send`),
   * and records this host among the version's hosts, so attaches here can select it. The
   * receive is claimed in the store first and counts only once the stream arrived whole with its
   * digest; a failure leaves nothing, and `reconcile()` cleans up after a crash.
   *
   * @param name - the volume's name
   * @param options - `scope`, `versionId` (default: the head), `from`
   * @throws `NOT_FOUND` when the volume has no such version; `CONFLICT` while this host
   *   receives it already; the source's and the backend's failures
   */
  async pull(
    name: string,
    options: { scope?: string; versionId?: string; from: VersionSource },
  ): Promise<PullReport> {
    const { key, versionId } = await this.#versionOf(name, options, 'pull');
    return pullVersion(this.#ctx, this.host, key, versionId, options.from);
  }

  /**
   * Uploads a version this host holds to the object store now (what each commit on this host
   * does in the background): a differential against the newest full object of its lineage, or
   * every `objects.fullEvery` versions a full (always a full in formats without incrementals,
   * `tar-zstd`). The object counts once its record is written, after the upload finished.
   * Waits for uploads of the volume already running.
   *
   * @param name - the volume's name
   * @param options - `scope`, `versionId` (default: the head)
   * @returns the object, or `uploaded: false` when the version had one already
   * @throws `INVALID_ARGUMENT` without an object store; `NOT_FOUND` when this host holds no
   *   copy of the version; the object store's and the backend's failures
   */
  async upload(name: string, options: ObjectVersionOptions = {}): Promise<UploadReport> {
    const tier = this.#tier('upload');
    const { key, versionId } = await this.#versionOf(name, options, 'upload');
    return this.#uploads.onVolume(key, () => uploadVersion(this.#ctx, tier, this.host, key, versionId));
  }

  /**
   * Receives a version this host lacks from the object store and records this host among the
   * version's hosts, so attaches here can select it: its full object, or its differential after
   * the full it is against (that full's version is kept as a copy here too while it is
   * committed, and otherwise received as a temporary base and removed again). It goes through
   * the same claimed receive as {@link CacheVolumes.pull}, and the backend checks each object's
   * sha256 as the store recorded it: a corrupt or cut object leaves nothing.
   *
   * @param name - the volume's name
   * @param options - `scope`, `versionId` (default: the head)
   * @returns what was received (`received: false` when this host held it already)
   * @throws `INVALID_ARGUMENT` without an object store; `NOT_FOUND` when the version is gone or
   *   has no object this host's backend reads; `CONFLICT` while this host receives it already;
   *   the object store's and the backend's failures
   */
  async restore(name: string, options: ObjectVersionOptions = {}): Promise<RestoreReport> {
    const tier = this.#tier('restore');
    const { key, versionId } = await this.#versionOf(name, options, 'restore');
    return restoreVersion(this.#ctx, tier, this.host, key, versionId);
  }

  /**
   * Removes a whole volume: every version, after abandoning its live forks.
   *
   * @param name - the volume's name
   * @param options - `scope`
   * @returns the ids of the versions removed
   * @throws `NOT_FOUND` for a volume that does not exist; `CONFLICT`, with nothing removed,
   *   while another volume's attach is forking one of its versions (see `AttachOptions.fallbacks`)
   */
  async removeVolume(name: string, options: { scope?: string } = {}): Promise<string[]> {
    const key = { scope: validateName(options.scope ?? 'default', 'scope'), name: validateName(name) };
    return this.#onVolume(key, async () => {
      const slice = await this.store.read(key);
      if (!slice.volume)
        throw new CacheVolumeError('NOT_FOUND', `No volume "${key.name}" in scope "${key.scope}".`, {
          details: key,
        });
      // Refused before anything is removed, so the volume is never left half-removed.
      const now = this.#ctx.clock();
      const borrowed = Object.values(slice.volume.versions).filter((version) => isBorrowed(version, now));
      if (borrowed.length > 0)
        throw new CacheVolumeError(
          'CONFLICT',
          `Volume "${key.name}" (scope "${key.scope}") is being forked by another volume that falls back to it; remove it once that attach is done.`,
          { details: { ...key, versionIds: borrowed.map((version) => version.id) } },
        );
      for (const fork of Object.values(slice.forks))
        if (isLive(fork)) await abandonFork(this.#ctx, key, fork.id, 'requested');
      const removed: string[] = [];
      for (const versionId of slice.volume.versionIds) {
        await removeVersion(this.#ctx, { ...key, versionId }, 'requested');
        removed.push(versionId);
      }
      // Its objects are unneeded now; those the bucket fails to delete keep the record for gc().
      if (this.#objects) await deleteUnneededObjects(this.#ctx, this.#objects, key).catch(() => undefined);
      await this.store.transact(key, (s) => ({ slice: dropEmptyVolume(s), result: undefined }));
      return removed;
    });
  }

  /**
   * Per-volume statistics: hit/stale/miss counts and ratio (since the volume was made, and over
   * the last 24 hours and 7 days), versions, sizes, an empty head, live forks.
   */
  async stats(): Promise<VolumeStats[]> {
    return volumeStats(await collect(allSlices(this.#ctx)), this.#ctx.clock());
  }

  /** Waits until every queued operation of this engine has finished: uploads, and fetches from other hosts, included. */
  async idle(): Promise<void> {
    await this.#fleet?.idle();
    await this.#ctx.queues.idle();
    await this.#uploads.idle();
  }

  /** Waits for queued work, then closes the store (its connections and files) and the object store. */
  async close(): Promise<void> {
    await this.idle();
    await this.store.close();
    await this.objectStore?.close?.();
  }

  // ---- internals -------------------------------------------------------------------------

  #tier(what: string): ObjectTier {
    if (this.#objects) return this.#objects;
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Cannot ${what} without an object store: pass \`objects: { store }\` to CacheVolumes.`,
    );
  }

  async #versionOf(
    name: string,
    options: ObjectVersionOptions,
    what: string,
  ): Promise<{ key: VolumeKey; versionId: string }> {
    const key = { scope: validateName(options.scope ?? 'default', 'scope'), name: validateName(name) };
    const versionId =
      options.versionId === undefined
        ? headOf((await this.store.read(key)).volume ?? undefined)?.id
        : validateId(options.versionId, 'version id');
    if (versionId === undefined) {
      throw new CacheVolumeError(
        'NOT_FOUND',
        `Volume "${key.name}" (scope "${key.scope}") has no version to ${what}.`,
        { details: key },
      );
    }
    return { key, versionId };
  }

  /** After a commit on this host: uploads the version in the background (a failure is a warning). */
  #uploadLater(key: VolumeKey, version: VersionRecord): void {
    const tier = this.#objects;
    if (!tier || !this.backend.capabilities.transfer) return;
    const ref = { scope: key.scope, name: key.name };
    void this.#uploads.onVolume(ref, async () => {
      try {
        await uploadVersion(this.#ctx, tier, this.host, ref, version.id);
      } catch (error) {
        // Gone meanwhile (a newer commit's retention removed it): nothing to upload.
        if (isCacheVolumeError(error, 'NOT_FOUND')) return;
        const failure = isCacheVolumeError(error)
          ? error
          : new CacheVolumeError('STORE_FAILED', String(error), { cause: error });
        this.#events.emit('warning', {
          message: `Could not upload version "${version.id}" of volume "${ref.name}" (scope "${ref.scope}") to ${tier.store.name}; the commit stands, and upload() retries: ${failure.message}`,
          error: failure,
        });
      }
    });
  }

  async #skipReason(fork: ForkRecord, exitCode: number): Promise<AbandonReason | null> {
    const mode = fork.commitMode;
    if (mode === 'never') return 'never';
    if (exitCode !== 0 && mode !== 'always') return 'failed';
    if (mode === 'if-missing' && fork.result !== 'miss') return 'not-missing';
    if (mode === 'on-change' && this.backend.capabilities.changeDetection && this.backend.hasChanges) {
      const hasChanges = this.backend.hasChanges.bind(this.backend);
      if (!(await this.#ctx.queues.backend(() => hasChanges(fork.id)))) return 'unchanged';
    }
    return null;
  }

  /** Undoes the links a fork of this host recorded; links on another host are not reachable. */
  async #release(fork: ForkRecord, capture: boolean): Promise<UnlinkResult[]> {
    if (!fork.links?.length || fork.host !== this.host) return [];
    return unlinkFork(fork, capture, {
      record: (links) =>
        this.store.transact(
          fork,
          (slice) => ({ slice: recordLinks(slice, fork.id, links), result: undefined }),
          {
            forks: [fork.id],
          },
        ),
    });
  }

  async #findFork(forkId: string): Promise<ForkRecord> {
    const fork = await this.store.findFork(forkId);
    if (!fork) {
      throw new CacheVolumeError(
        'NOT_FOUND',
        `No fork with id "${forkId}": it was never attached here, or gc() pruned it.`,
        { details: { forkId } },
      );
    }
    return fork;
  }

  #onVolume<T>(key: VolumeKey, work: () => Promise<T>): Promise<T> {
    return this.#ctx.queues.onVolume(key, work);
  }
}

/** The fleet options, validated: host names as labels, times and rates positive. */
function validateFleet(fleet: FleetOptions, self: string): FleetOptions {
  for (const host of Object.keys(fleet.peers ?? {})) {
    if (validateLabel(host, 'peer host') === self) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `fleet.peers names this host ("${self}"); list only other hosts.`,
      );
    }
  }
  for (const [field, value] of [
    ['budgetMs', fleet.budgetMs],
    ['bytesPerSecond', fleet.bytesPerSecond],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `fleet.${field} must be a positive number, got ${String(value)}.`,
      );
    }
  }
  return fleet;
}

/** A fallback volume as given, validated, with the attach's scope when it names none. */
function fallbackKey(fallback: FallbackVolume, scope: string): VolumeKey {
  const { name, scope: own } = typeof fallback === 'string' ? { name: fallback, scope: undefined } : fallback;
  return {
    scope: validateName(own ?? scope, 'fallback scope'),
    name: validateName(name, 'fallback volume name'),
  };
}

/** `{ links }` when a fork had links, nothing otherwise (the outcome of a fork without links is unchanged). */
function withLinks(links: UnlinkResult[]): { links?: UnlinkResult[] } {
  return links.length > 0 ? { links } : {};
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
