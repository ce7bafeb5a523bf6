import type { BackendEntry } from '../contracts/backend.js';
import { isLive, type VolumeSlice } from '../model/state.js';
import { type Claim, claimDue } from '../model/transitions.js';
import type { EngineContext } from './context.js';
import { releaseFallback } from './fallbacks.js';
import type { ReconcileReport } from './reports.js';
import { abandonFork, removeVersion, repairCommit } from './steps.js';

/**
 * Recovery: finishing what crashed or stalled processes left, and finding backend data that no
 * record accounts for. Work is claimed through the store (`claimDue`), so several reconcilers,
 * on one host or many, never repair the same thing at once.
 */

/** Volumes claimed per store call. */
const CLAIM_BATCH = 50;

/** A fresh, empty {@link ReconcileReport} (what `reconcile()` returns when it did nothing). */
export function emptyReconcileReport(): ReconcileReport {
  return {
    expiredForks: [],
    committed: [],
    abandoned: [],
    removedVersions: [],
    abandonedReceives: [],
    removedCopies: [],
    leftovers: [],
    unaccounted: [],
    errors: [],
  };
}

/**
 * Claims and repairs due work: attached forks whose lease ran out are abandoned; interrupted
 * attaches and abandons end abandoned; interrupted commits are completed (or abandoned when the
 * backend holds nothing); interrupted removals are finished. With `force`, every intent counts
 * as interrupted, whatever its lease.
 *
 * @param ctx - the engine
 * @param force - treat every in-flight intent as interrupted
 * @param report - where to record what was done
 */
export async function repairDue(ctx: EngineContext, force: boolean, report: ReconcileReport): Promise<void> {
  const seen = new Set<string>();
  for (;;) {
    const now = ctx.clock();
    const batches = await ctx.store.claimDue({ now, force, limit: CLAIM_BATCH }, (slice) => {
      const claimed = claimDue(slice, { now, until: now + ctx.leaseMs, force });
      return { slice: claimed.slice, result: claimed.claims };
    });
    const claims = batches.flat();
    for (const claim of claims) await repair(ctx, claim, report);
    // Stop when the store had no more due volumes, or only offered work already tried.
    const fresh = claims.filter((claim) => !seen.has(claimId(claim)));
    for (const claim of claims) seen.add(claimId(claim));
    if (batches.length < CLAIM_BATCH || fresh.length === 0) return;
  }
}

function claimId(claim: Claim): string {
  return claim.kind === 'removing' ? `version:${claim.version.versionId}` : `fork:${claim.fork.id}`;
}

async function repair(ctx: EngineContext, claim: Claim, report: ReconcileReport): Promise<void> {
  const key = claim.kind === 'removing' ? claim.version : claim.fork;
  const id = claim.kind === 'removing' ? claim.version.versionId : claim.fork.id;
  try {
    await ctx.queues.onVolume(key, async () => {
      // A crashed job's bind mounts and links go first (best effort: the abandon goes on).
      if (claim.kind !== 'removing') await ctx.releaseLinks?.(claim.fork).catch(() => undefined);
      if (claim.kind === 'removing') {
        await removeVersion(ctx, claim.version, 'requested', true);
        report.removedVersions.push(claim.version.versionId);
      } else if (claim.kind === 'lease-expired') {
        await abandonFork(ctx, key, claim.fork.id, 'lease-expired');
        report.expiredForks.push(claim.fork.id);
      } else if (claim.fork.state === 'committing' && claim.fork.versionId) {
        if (await repairCommit(ctx, claim.fork)) report.committed.push(claim.fork.id);
        else report.abandoned.push(claim.fork.id);
      } else {
        await abandonFork(ctx, key, claim.fork.id, 'reconcile');
        report.abandoned.push(claim.fork.id);
        // An interrupted attach of a fallback's version: that version is free again now, not
        // only when the borrow's lease ends.
        const source = claim.fork.state === 'creating' ? claim.fork.source : undefined;
        if (source) await releaseFallback(ctx, source, claim.fork.id);
      }
    });
  } catch (error) {
    report.errors.push({ id, error: String(error) });
  }
}

/**
 * Every slice in the store, page by page.
 *
 * @param ctx - the engine
 */
export async function* allSlices(ctx: Pick<EngineContext, 'store'>): AsyncGenerator<VolumeSlice> {
  let after: string | null = null;
  do {
    const page = await ctx.store.listVolumes({ after });
    yield* page.slices;
    after = page.next;
  } while (after !== null);
}

/**
 * Compares what the backend holds with what the store records: entries that no live fork,
 * version or commit in flight owns are unaccounted for. With `force` they are removed (use it
 * only when nothing else uses the store, or to discard data a lost database left behind);
 * otherwise they are kept and reported, because data the state cannot account for is never
 * deleted silently.
 *
 * @param ctx - the engine
 * @param force - remove unaccounted entries
 * @param report - where to record what was found and done
 */
export async function sweepBackend(
  ctx: EngineContext,
  force: boolean,
  report: ReconcileReport,
): Promise<void> {
  // List before reading the state: anything the backend holds was recorded as an intent before
  // it was made, so it is in a state read afterwards.
  const listed = await listEntries(ctx);
  if (listed.length === 0) return;
  const ownedThen = await ownedEntries(ctx);
  const candidates = listed.filter((entry) => !ownedThen.has(entryKey(entry)));
  if (candidates.length === 0) return;
  // A fork that committed or was abandoned while the state was read may still be on that list.
  // Read the state again, then list again: an entry still there whose record had ended before
  // that read is unaccounted for, because a step's backend work is done before its outcome is
  // recorded.
  const ownedNow = await ownedEntries(ctx);
  const present = new Set((await listEntries(ctx)).map(entryKey));
  for (const entry of candidates) {
    if (ownedNow.has(entryKey(entry)) || !present.has(entryKey(entry))) continue;
    if (!force) {
      report.unaccounted.push(entry);
      continue;
    }
    try {
      await ctx.queues.backend(() => removeEntry(ctx, entry));
      report.leftovers.push(entry);
    } catch (error) {
      report.errors.push({ id: entry.id, error: String(error) });
    }
  }
}

function listEntries(ctx: EngineContext): Promise<BackendEntry[]> {
  return ctx.queues.backend(() => ctx.backend.list());
}

function entryKey(entry: BackendEntry): string {
  return `${entry.kind}:${entry.id}`;
}

/**
 * The backend entries the state owns: live forks, versions, versions being committed, and
 * temporary bases of restores.
 */
async function ownedEntries(ctx: EngineContext): Promise<Set<string>> {
  const owned = new Set<string>();
  for await (const slice of allSlices(ctx)) {
    for (const fork of Object.values(slice.forks)) {
      if (isLive(fork)) owned.add(`fork:${fork.id}`);
      if (fork.versionId && isLive(fork)) owned.add(`version:${fork.versionId}`);
    }
    for (const id of Object.keys(slice.volume?.versions ?? {})) owned.add(`version:${id}`);
    // A restore's temporary base (see `model/objects.ts`): its claim's clean-up removes it.
    for (const base of slice.volume?.temporaryBases ?? []) owned.add(`version:${base.versionId}`);
  }
  return owned;
}

function removeEntry(ctx: EngineContext, entry: BackendEntry): Promise<void> {
  return entry.kind === 'fork' ? ctx.backend.discardFork(entry.id) : ctx.backend.removeVersion(entry.id);
}
