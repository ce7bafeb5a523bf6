import { isCacheVolumeError } from '../errors.js';
import { borrowFallback, releaseBorrow, renewBorrow } from '../model/fallback.js';
import { selectParent } from '../model/selection.js';
import type { ForkSource, VolumeKey } from '../model/state.js';
import type { EngineContext } from './context.js';

/**
 * The engine's side of fallback volumes: borrowing a fallback volume's version for a fork of
 * another volume, keeping the borrow while the fork is made, and ending it. Each is one
 * transaction on the fallback volume's slice (never on two volumes at once).
 */

/** What a fallback attach asks for. */
export interface FallbackRequest {
  /** The fork being made. */
  forkId: string;
  /** The requesting host. */
  host: string;
  /** The fork's lease length: a borrow never outlasts it. */
  leaseMs: number;
  /** The fallback volumes, in order. */
  fallbacks: readonly VolumeKey[];
}

/**
 * Borrows the best version of the first fallback volume that has one, but only when the
 * requested volume itself has nothing usable now (a `miss`: it is checked again, atomically,
 * when the fork is recorded, and a borrow that is not needed then is released).
 *
 * @param ctx - the engine
 * @param key - the requested volume
 * @param request - the fork, host, lease and fallbacks
 * @returns the borrowed source, or `null` (no fallbacks, not a miss, or no fallback has data)
 */
export async function borrowFirstFallback(
  ctx: EngineContext,
  key: VolumeKey,
  request: FallbackRequest,
): Promise<ForkSource | null> {
  if (request.fallbacks.length === 0) return null;
  const own = await ctx.store.read(key);
  const selection = selectParent(
    own.volume ?? undefined,
    Object.values(own.forks),
    { host: request.host, now: ctx.clock() },
    ctx.policy,
  );
  if (selection.result !== 'miss') return null;
  for (const fallback of request.fallbacks) {
    const source = await ctx.store.transact(fallback, (slice) => {
      const now = ctx.clock();
      const borrowed = borrowFallback(slice, {
        forkId: request.forkId,
        host: request.host,
        now,
        until: now + request.leaseMs,
        policy: ctx.policy,
      });
      return { slice: borrowed.slice, result: borrowed.source };
    });
    if (source) return source;
  }
  return null;
}

/**
 * Ends a borrow. Best effort: a borrow that cannot be released ends by itself at its lease end,
 * so a failure here is a `warning` event, never an error of the attach.
 *
 * @param ctx - the engine
 * @param source - the borrowed version
 * @param forkId - the fork it was borrowed for
 */
export async function releaseFallback(ctx: EngineContext, source: ForkSource, forkId: string): Promise<void> {
  try {
    await ctx.store.transact(source, (slice) => ({
      slice: releaseBorrow(slice, source.versionId, forkId, ctx.clock()),
      result: undefined,
    }));
  } catch (error) {
    if (!isCacheVolumeError(error)) throw error;
    ctx.events.emit('warning', {
      message: `Could not release version "${source.versionId}" of fallback volume "${source.name}" (scope "${source.scope}"); it is kept until the borrow's lease ends: ${error.message}`,
      error,
    });
  }
}

/**
 * Keeps a borrow alive while a long fork is made: renews it every third of the engine's lease
 * (as the fork's own lease is renewed meanwhile, so the borrow never outlasts it) until the
 * returned function is called. A failed renewal is left for the next one.
 *
 * @param ctx - the engine
 * @param source - the borrowed version
 * @param forkId - the fork it is borrowed for
 */
export function renewFallbackWhile(ctx: EngineContext, source: ForkSource, forkId: string): () => void {
  const timer = setInterval(
    () => {
      ctx.store
        .transact(source, (slice) => ({
          slice: renewBorrow(slice, source.versionId, forkId, ctx.clock() + ctx.leaseMs),
          result: undefined,
        }))
        .catch(() => undefined);
    },
    Math.max(50, Math.floor(ctx.leaseMs / 3)),
  );
  timer.unref?.();
  return () => clearInterval(timer);
}
