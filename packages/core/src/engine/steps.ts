import type { ForkOptions, Usage } from '../contracts/backend.js';
import type { SliceFunction, SliceUpdate } from '../contracts/store.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { type PlannedRemoval, planVolumeRetention } from '../model/retention.js';
import type { Selection } from '../model/selection.js';
import type { ForkRecord, ForkSource, VersionRecord, VolumeKey, VolumeSlice } from '../model/state.js';
import {
  type AttachInput,
  beginAbandon,
  beginAttach,
  beginCommit,
  beginRemoveVersion,
  completeAbandon,
  completeAttach,
  completeCommit,
  completeRemoveVersion,
  getFork,
  renewLease,
  type VersionRef,
} from '../model/transitions.js';
import type { EngineContext } from './context.js';
import type { AbandonReason, CacheVolumeEvents } from './events.js';
import { borrowFirstFallback, releaseFallback, renewFallbackWhile } from './fallbacks.js';

/**
 * The engine's operations, each written as one {@link Step}: an intent recorded in the store,
 * a backend step, and an outcome recorded after it. {@link runStep} runs them all the same way,
 * so a crash at any point leaves an intent that recovery (see `recovery.ts`) can finish.
 */

/** One operation: intent → backend step → outcome. */
export interface Step<I, B, T> {
  /** Records the intent before the backend step, or the intent already recorded (recovery). */
  intent: SliceFunction<I> | { recorded: I };
  /** The backend step. */
  act(intent: I): Promise<B>;
  /** Records the outcome. */
  outcome(slice: VolumeSlice, done: B, intent: I): SliceUpdate<T>;
  /** Called when the backend step or the outcome fails, before the error is rethrown. */
  onFailure?(error: unknown, intent: I, stage: 'act' | 'outcome'): Promise<void>;
  /**
   * Extends the intent's lease while the backend step runs (every third of the lease), so that
   * a long step (a copy of a big version) is not taken for an interrupted one and recovered.
   */
  renew?(slice: VolumeSlice, expiresAt: number): VolumeSlice;
  /** Ended forks the transactions must see (see `TransactOptions.forks`). */
  forks?: readonly string[];
  /** Which of the two writes must be on stable storage before going on. */
  durable?: { intent?: boolean; outcome?: boolean };
}

/**
 * Runs a {@link Step} on a volume: writes the intent, runs the backend step within the backend
 * concurrency bound, writes the outcome. If the backend step or the outcome fails, `onFailure`
 * runs (its own failure is ignored: the intent is still there for recovery) and the error is
 * rethrown.
 *
 * @param ctx - the engine
 * @param key - the volume
 * @param step - the operation
 */
export async function runStep<I, B, T>(ctx: EngineContext, key: VolumeKey, step: Step<I, B, T>): Promise<T> {
  const forks = step.forks;
  const intent =
    'recorded' in step.intent
      ? step.intent.recorded
      : await ctx.store.transact(key, step.intent, { forks, durable: step.durable?.intent });
  let stage: 'act' | 'outcome' = 'act';
  try {
    const stopRenewing = step.renew ? renewWhile(ctx, key, step.renew, forks) : undefined;
    const done = await ctx.queues.backend(() => step.act(intent)).finally(stopRenewing);
    stage = 'outcome';
    return await ctx.store.transact(key, (slice) => step.outcome(slice, done, intent), {
      forks,
      durable: step.durable?.outcome,
    });
  } catch (error) {
    await step.onFailure?.(error, intent, stage).catch(() => undefined);
    throw error;
  }
}

/**
 * Renews a lease every third of it until the returned function is called. A renewal that fails
 * is left for the next one (or for the step's own outcome write to report).
 */
function renewWhile(
  ctx: EngineContext,
  key: VolumeKey,
  renew: (slice: VolumeSlice, expiresAt: number) => VolumeSlice,
  forks: readonly string[] | undefined,
): () => void {
  const timer = setInterval(
    () => {
      ctx.store
        .transact(key, (slice) => ({ slice: renew(slice, ctx.clock() + ctx.leaseMs), result: undefined }), {
          forks,
        })
        .catch(() => undefined);
    },
    Math.max(50, Math.floor(ctx.leaseMs / 3)),
  );
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * What {@link attachFork} needs: the transition's input but the time, policy and borrowed
 * fallback, plus `failOnMiss` and the fallback volumes.
 */
export interface AttachRequest extends Omit<AttachInput, 'now' | 'policy' | 'fallback'> {
  /** Throw `NOT_FOUND` instead of attaching an empty fork (a fork of a fallback is not empty). */
  failOnMiss: boolean;
  /** Volumes to fork, in order, when this one has nothing usable (see `AttachOptions.fallbacks`). */
  fallbacks?: readonly VolumeKey[];
}

/** How many parents whose data turns out to be gone one attach passes over before it gives up. */
const MAX_LOST_PARENTS = 3;

/**
 * Thrown by {@link attachOnce} when the parent's data is gone (the backend says `NOT_FOUND`);
 * `volume` is the parent's volume (the requested one, or the fallback it came from).
 */
class LostParent extends Error {
  constructor(
    readonly volume: VolumeKey,
    readonly versionId: string,
    override readonly cause: CacheVolumeError,
  ) {
    super(cause.message);
  }
}

/**
 * Attaches a fork: records it as `creating` with the selected parent, has the backend make it,
 * records it as `attached`. A failed backend step abandons it, so nothing is left behind. When
 * the parent's data is gone (someone deleted it under the backend), the version is removed as
 * `lost`, with a `warning` event, and the attach selects again (the version before it is the
 * head now, or it is a miss) instead of failing, up to {@link MAX_LOST_PARENTS} times.
 *
 * With fallback volumes, a miss forks the first fallback that has a usable version: that
 * version is borrowed (see `borrowFirstFallback`) before the intent is recorded, so no
 * retention or removal takes it while the backend copies it, and released once the fork is
 * made or the attach failed. The fork records it as its `source`; its `baseId` stays `null`.
 *
 * @param ctx - the engine
 * @param key - the volume
 * @param request - the fork's id, owner, size, commit mode and lease
 */
export async function attachFork(
  ctx: EngineContext,
  key: VolumeKey,
  request: AttachRequest,
): Promise<{ fork: ForkRecord; selection: Selection }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await attachOnce(ctx, key, request);
    } catch (error) {
      if (!(error instanceof LostParent)) throw error;
      if (attempt >= MAX_LOST_PARENTS) throw error.cause;
      const lost = error.volume;
      await removeVersion(ctx, { scope: lost.scope, name: lost.name, versionId: error.versionId }, 'lost');
      ctx.events.emit('warning', {
        message: `Version "${error.versionId}" of volume "${lost.name}" (scope "${lost.scope}") has no data any more; removed it and selected again: ${error.cause.message}`,
        error: error.cause,
      });
      request = { ...request, forkId: ctx.newId('fork') };
    }
  }
}

async function attachOnce(
  ctx: EngineContext,
  key: VolumeKey,
  request: AttachRequest,
): Promise<{ fork: ForkRecord; selection: Selection }> {
  const { forkId } = request;
  const fallback = await borrowFirstFallback(ctx, key, { ...request, fallbacks: request.fallbacks ?? [] });
  const stopRenewing = fallback ? renewFallbackWhile(ctx, fallback, forkId) : undefined;
  try {
    return await attachStep(ctx, key, request, fallback);
  } finally {
    stopRenewing?.();
    // The fork exists (it no longer needs its base), or the attach failed: either way the
    // fallback's version is free again.
    if (fallback) await releaseFallback(ctx, fallback, forkId);
  }
}

async function attachStep(
  ctx: EngineContext,
  key: VolumeKey,
  request: AttachRequest,
  fallback: ForkSource | null,
): Promise<{ fork: ForkRecord; selection: Selection }> {
  const { forkId } = request;
  const withFallbacks = (request.fallbacks?.length ?? 0) > 0;
  const attached = await runStep(ctx, key, {
    intent: (slice) => {
      const begun = beginAttach(slice, { ...request, now: ctx.clock(), policy: ctx.policy, fallback });
      if (request.failOnMiss && begun.selection.result === 'miss' && !begun.fork.source) {
        throw new CacheVolumeError(
          'NOT_FOUND',
          `Volume "${key.name}" (scope "${key.scope}") has no usable version${withFallbacks ? ', nor has any of its fallback volumes,' : ''} and failOnMiss is set.`,
          { details: { ...key, reason: begun.selection.reason } },
        );
      }
      return { slice: begun.slice, result: begun };
    },
    act: async ({ fork }) => {
      const options: ForkOptions = {
        capacityBytes: fork.capacityBytes,
        onProgress: (p) => ctx.events.emit('progress', { forkId, ...p }),
      };
      const parent = fork.baseId ? { volume: key, versionId: fork.baseId } : fork.source;
      if (!parent) return ctx.backend.createFork(forkId, options);
      const { versionId } = parent;
      const volume = 'volume' in parent ? parent.volume : { scope: parent.scope, name: parent.name };
      return ctx.backend.forkVersion(forkId, versionId, options).catch((error: unknown) => {
        throw isCacheVolumeError(error, 'NOT_FOUND') ? new LostParent(volume, versionId, error) : error;
      });
    },
    renew: (slice, expiresAt) => renewLease(slice, forkId, expiresAt),
    outcome: (slice, { mountPath }, { selection }) => {
      const next = completeAttach(slice, forkId, mountPath);
      return { slice: next, result: { fork: getFork(next, forkId), selection } };
    },
    onFailure: async (error, _intent, stage) => {
      // A failed outcome write leaves the intent for recovery, unless the fork was taken from
      // under us (a reconciler abandoned it): then it must be abandoned now.
      if (stage === 'act' || isCacheVolumeError(error, 'CONFLICT'))
        await abandonFork(ctx, key, forkId, 'attach-failed');
    },
  });
  ctx.events.emit('attach', attached);
  return attached;
}

/**
 * Commits a fork: records `committing` with the new version's id, has the backend commit it,
 * records the version (durably: once this returns, the commit survives a power cut). A failed
 * backend step abandons the fork. Finishing a commit that recovery already finished returns
 * that version.
 *
 * @param ctx - the engine
 * @param key - the fork's volume
 * @param forkId - the fork
 */
export async function commitFork(ctx: EngineContext, key: VolumeKey, forkId: string): Promise<VersionRecord> {
  const versionId = ctx.newId('version');
  const version = await finishCommit(ctx, key, forkId, {
    intent: (slice) => ({
      slice: beginCommit(slice, forkId, versionId, ctx.clock() + ctx.leaseMs),
      result: versionId,
    }),
    repaired: false,
  }).catch(async (error: unknown) => {
    // The store could not record the commit's intent (a full disk, an unreachable database):
    // the head stays as it is and the fork is abandoned, which frees its space. A fork that is
    // `committing` (only the outcome write failed) is left for recovery to finish.
    if (isCacheVolumeError(error, 'STORE_FAILED') && (await stillAttached(ctx, key, forkId)))
      await abandonFork(ctx, key, forkId, 'commit-failed').catch(() => undefined);
    throw error;
  });
  await pruneVolume(ctx, key);
  return version;
}

/** Whether the store still records the fork as `attached` (`false` when it cannot be read). */
async function stillAttached(ctx: EngineContext, key: VolumeKey, forkId: string): Promise<boolean> {
  const slice = await ctx.store.read(key).catch(() => null);
  return slice?.forks[forkId]?.state === 'attached';
}

/**
 * Removes a version retention planned, unless that no longer applies: a fork took it meanwhile
 * (`CONFLICT`) or another process removed it first (`NOT_FOUND`).
 *
 * @param ctx - the engine
 * @param planned - the planned removal
 * @returns the version removed, or `null` when it was left
 */
export async function removePlanned(ctx: EngineContext, planned: PlannedRemoval): Promise<VersionRef | null> {
  const ref = { scope: planned.scope, name: planned.name, versionId: planned.versionId };
  try {
    await removeVersion(ctx, ref, planned.reason);
    return ref;
  } catch (error) {
    if (isCacheVolumeError(error, 'CONFLICT') || isCacheVolumeError(error, 'NOT_FOUND')) return null;
    throw error;
  }
}

/**
 * Removes what retention finds in one volume on its own (expired and superseded versions no
 * live fork depends on; see `planVolumeRetention`): what a commit runs afterwards, so that disk
 * stays bounded without waiting for `gc()`. A removal that fails is a `warning` event, never an
 * error: the commit it follows has succeeded.
 *
 * @param ctx - the engine
 * @param key - the volume
 */
export async function pruneVolume(ctx: EngineContext, key: VolumeKey): Promise<void> {
  try {
    const slice = await ctx.store.read(key);
    for (const planned of planVolumeRetention(slice, ctx.clock(), ctx.policy))
      await removePlanned(ctx, planned);
  } catch (error) {
    if (!isCacheVolumeError(error)) throw error;
    ctx.events.emit('warning', {
      message: `Could not remove old versions of volume "${key.name}" (scope "${key.scope}") after a commit; gc() will retry: ${error.message}`,
      error,
    });
  }
}

/**
 * Finishes a commit that a crash interrupted (the fork is `committing`): the backend commit is
 * idempotent, and the version becomes head only if no commit of the volume finished after this
 * one began. Returns `null`, after abandoning the fork, when the backend holds neither the fork
 * nor the version.
 *
 * @param ctx - the engine
 * @param fork - the interrupted fork (as claimed)
 */
export async function repairCommit(ctx: EngineContext, fork: ForkRecord): Promise<VersionRecord | null> {
  try {
    return await finishCommit(ctx, fork, fork.id, {
      intent: { recorded: fork.versionId as string },
      repaired: true,
    });
  } catch (error) {
    if (!isCacheVolumeError(error, 'NOT_FOUND')) throw error;
    await abandonFork(ctx, fork, fork.id, 'reconcile');
    return null;
  }
}

/** A commit's outcome: the version, and the fork when this call committed it. */
interface CommitOutcome {
  version: VersionRecord;
  fork: ForkRecord | null;
}

async function finishCommit(
  ctx: EngineContext,
  key: VolumeKey,
  forkId: string,
  how: { intent: SliceFunction<string> | { recorded: string }; repaired: boolean },
): Promise<VersionRecord> {
  const { version, fork } = await runStep<string, Usage, CommitOutcome>(ctx, key, {
    intent: how.intent,
    act: (versionId) => ctx.backend.commitFork(forkId, versionId),
    outcome: (slice, { usedBytes, estimated }, versionId) => {
      const current = getFork(slice, forkId);
      const already = current.state === 'committed' && current.versionId === versionId;
      const version = already ? slice.volume?.versions[versionId] : undefined;
      if (version) return { slice, result: { version, fork: null } };
      const next = completeCommit(slice, forkId, usedBytes, ctx.clock(), {
        repaired: how.repaired,
        estimated,
      });
      return { slice: next.slice, result: { version: next.version, fork: getFork(next.slice, forkId) } };
    },
    onFailure: async (_error, _versionId, stage) => {
      if (stage === 'act' && !how.repaired) await abandonFork(ctx, key, forkId, 'commit-failed');
    },
    forks: [forkId],
    durable: { outcome: true },
  });
  if (fork) ctx.events.emit('commit', { fork, version });
  return version;
}

/**
 * Abandons a fork: records `abandoning`, has the backend discard it, records `abandoned`. No
 * version or head changes. Abandoning an abandoned fork is a no-op.
 *
 * When the store cannot record the intent (`STORE_FAILED`: typically a full disk that the job
 * filled, with the state on the same filesystem), the fork's data is discarded first, which is
 * what the abandon is for and frees the space, and the abandon is tried once more. The fork is
 * this caller's to end (its transition was valid; only the write failed), and discarding is
 * idempotent, so a later reconcile that finds the data gone just records the end.
 *
 * @param ctx - the engine
 * @param key - the fork's volume
 * @param forkId - the fork
 * @param reason - why, for the `abandon` event
 */
export async function abandonFork(
  ctx: EngineContext,
  key: VolumeKey,
  forkId: string,
  reason: AbandonReason,
): Promise<void> {
  const abandon = () =>
    runStep(ctx, key, {
      intent: (slice) => ({
        slice: beginAbandon(slice, forkId, ctx.clock() + ctx.leaseMs),
        result: undefined,
      }),
      act: () => ctx.backend.discardFork(forkId),
      outcome: (slice) => {
        const next = completeAbandon(slice, forkId, ctx.clock());
        return { slice: next, result: getFork(next, forkId) };
      },
      forks: [forkId],
    });
  let fork: ForkRecord;
  try {
    fork = await abandon();
  } catch (error) {
    if (!isCacheVolumeError(error, 'STORE_FAILED')) throw error;
    await ctx.queues.backend(() => ctx.backend.discardFork(forkId));
    fork = await abandon();
  }
  ctx.events.emit('abandon', { fork, reason });
}

/**
 * Removes a version: records `removing` (durably, so a power cut never leaves a record of a
 * version whose data is gone), has the backend remove it, drops the record.
 *
 * @param ctx - the engine
 * @param ref - the version
 * @param reason - why, for the `remove` event
 * @param recorded - set when recovery finishes a removal that was already begun
 * @throws `CONFLICT` while a live fork depends on it
 */
export async function removeVersion(
  ctx: EngineContext,
  ref: VersionRef,
  reason: CacheVolumeEvents['remove']['reason'],
  recorded = false,
): Promise<void> {
  const { versionId } = ref;
  await runStep(ctx, ref, {
    intent: recorded
      ? { recorded: undefined }
      : (slice) => ({
          slice: beginRemoveVersion(
            slice,
            versionId,
            ctx.clock() + ctx.leaseMs,
            reason === 'lost',
            ctx.clock(),
          ),
          result: undefined,
        }),
    act: () => ctx.backend.removeVersion(versionId),
    // Other hosts' copies stay listed, for them to remove (a lost copy: only this host's goes).
    outcome: (slice) => {
      const by = { host: ctx.host, until: ctx.clock() + ctx.policy.retentionMs, lost: reason === 'lost' };
      return { slice: completeRemoveVersion(slice, versionId, by), result: undefined };
    },
    durable: { intent: true },
  });
  ctx.events.emit('remove', { version: ref, reason });
}
