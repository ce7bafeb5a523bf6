import {
  abandonReceive,
  dropCopy,
  expiredReceives,
  leftCopies,
  takeOverReceive,
} from '../model/locations.js';
import type { VolumeSlice } from '../model/state.js';
import type { EngineContext } from './context.js';
import { cutTemporaryBases, removeCutTemporaryBases, type VersionAt } from './objects.js';
import { allSlices } from './recovery.js';
import type { ReconcileReport } from './reports.js';

/**
 * What each host repairs of its own copies, in `reconcile()` and `gc()`: receives on this host
 * that a crash cut short (once their claim ran out), temporary bases of restores from the object
 * store that a crash left, and copies of versions that another host removed while this one still
 * held them (`pendingCopies`). Each host touches only its own
 * backend, so every host of a fleet runs this without colliding with the others.
 */

type Copy = VersionAt;

/** Gathers this host's repairs while a walk of the store goes by, then carries them out. */
export class HostCopies {
  readonly #cut: Copy[] = [];
  readonly #left: Copy[] = [];
  readonly #bases: Copy[] = [];

  /**
   * @param ctx - the engine
   * @param now - the time the walk began (ms since epoch)
   */
  constructor(
    private readonly ctx: EngineContext,
    private readonly now: number,
  ) {}

  /**
   * Notes what this host has to repair in one volume.
   *
   * @param slice - the volume's slice, as the walk read it
   */
  add(slice: VolumeSlice): void {
    const key = { scope: slice.scope, name: slice.name };
    for (const versionId of expiredReceives(slice, this.ctx.host, this.now))
      this.#cut.push({ key, versionId });
    for (const versionId of leftCopies(slice, this.ctx.host)) this.#left.push({ key, versionId });
    this.#bases.push(...cutTemporaryBases(slice, this.ctx.host, this.now));
  }

  /**
   * Removes what cut receives and restores left (`abandonedReceives`) and the copies other
   * hosts' removals left here (`removedCopies`). Failures go to `report.errors`; they are retried next time.
   *
   * @param report - where the outcome goes
   */
  async repair(report: ReconcileReport): Promise<void> {
    for (const copy of this.#cut) await this.#attempt(copy, report, () => this.#removeCut(copy, report));
    for (const copy of this.#left) await this.#attempt(copy, report, () => this.#removeLeft(copy, report));
    await removeCutTemporaryBases(this.ctx, this.ctx.host, this.#bases, report);
  }

  async #attempt(copy: Copy, report: ReconcileReport, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      report.errors.push({ id: copy.versionId, error: String(error) });
    }
  }

  /**
   * A cut receive: taken over first, so that neither the receive that made the claim nor a new
   * one on this host can record a copy while the clean-up removes it; then removed; then the
   * claim is dropped.
   */
  async #removeCut({ key, versionId }: Copy, report: ReconcileReport): Promise<void> {
    const { ctx } = this;
    const until = ctx.clock() + ctx.leaseMs;
    const taken = await ctx.store.transact(key, (slice: VolumeSlice) => {
      const next = takeOverReceive(slice, versionId, ctx.host, ctx.clock(), until);
      return { slice: next ?? slice, result: next !== undefined };
    });
    if (!taken) return;
    if (ctx.backend.capabilities.transfer)
      await ctx.queues.backend(() => ctx.backend.removeVersion(versionId));
    await ctx.store.transact(key, (slice: VolumeSlice) => ({
      slice: abandonReceive(slice, versionId, ctx.host, until),
      result: undefined,
    }));
    report.abandonedReceives.push(versionId);
  }

  /** A copy another host's removal left here: removed, then this host leaves the record's `hosts`. */
  async #removeLeft({ key, versionId }: Copy, report: ReconcileReport): Promise<void> {
    const { ctx } = this;
    await ctx.queues.backend(() => ctx.backend.removeVersion(versionId));
    await ctx.store.transact(key, (slice: VolumeSlice) => ({
      slice: dropCopy(slice, versionId, ctx.host),
      result: undefined,
    }));
    report.removedCopies.push(versionId);
  }
}

/**
 * Repairs this host's copies in every volume, in one walk of the store (`gc()` gathers them in
 * its own walk instead).
 *
 * @param ctx - the engine
 * @param report - where the outcome goes
 */
export async function repairCopies(ctx: EngineContext, report: ReconcileReport): Promise<void> {
  const copies = new HostCopies(ctx, ctx.clock());
  for await (const slice of allSlices(ctx)) copies.add(slice);
  await copies.repair(report);
}
