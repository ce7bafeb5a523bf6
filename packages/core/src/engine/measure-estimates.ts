import type { VolumeSlice } from '../model/state.js';
import { recordMeasuredUsage } from '../model/transitions.js';
import type { EngineContext } from './context.js';

/**
 * Replaces the estimated sizes in one volume's slice with measurements, so that `gc()` weighs
 * what versions really use: a backend whose exact figure costs time in proportion to the files
 * (btrfs without quotas) estimates at commit and measures in `usage()`, which it caches. A
 * version that another host holds (hosts sharing a store) is left to that host's `gc()`; one
 * that cannot be measured now keeps its estimate until the next `gc()`.
 *
 * @param ctx - the engine
 * @param slice - a volume's slice, as listed
 * @param host - this engine's host: only versions it holds are measured
 * @param onError - told of each measurement that failed
 * @returns the slice with the measured figures (the stored one when any changed)
 */
export async function measureEstimates(
  ctx: Pick<EngineContext, 'backend' | 'store'>,
  slice: VolumeSlice,
  host: string,
  onError: (versionId: string, error: unknown) => void,
): Promise<VolumeSlice> {
  const estimated = Object.values(slice.volume?.versions ?? {}).filter(
    (version) =>
      version.usedBytesEstimated === true && version.state === 'committed' && version.hosts.includes(host),
  );
  if (estimated.length === 0) return slice;
  const measured = new Map<string, number>();
  for (const version of estimated) {
    try {
      const usage = await ctx.backend.usage('version', version.id);
      if (usage.estimated !== true) measured.set(version.id, usage.usedBytes);
    } catch (error) {
      onError(version.id, error);
    }
  }
  if (measured.size === 0) return slice;
  return ctx.store.transact(slice, (current) => {
    let next = current;
    for (const [id, usedBytes] of measured) next = recordMeasuredUsage(next, id, usedBytes);
    return { slice: next, result: next };
  });
}
