import type { Policy } from './policy.js';
import { headOf, type Selection, selectParent } from './selection.js';
import type { ForkRecord, VersionRecord, VolumeRecord } from './state.js';

/**
 * Selection that weighs transfer: where the head of a volume is held only by other hosts, an
 * attach either pulls it first (when that is expected to finish within a time budget) and then
 * gets a hit, or attaches the best version this host holds now (stale or miss) and fetches the
 * head in the background, so that the next job here hits. A pure function of the volume, its
 * forks, who asks, the policy and what this host knows of the fleet.
 */

/** What this host knows of the fleet when it plans an attach. */
export interface FleetView {
  /** Hosts whose agents this host can ask for versions (this host excluded or not: it is ignored). */
  peers: readonly string[];
  /** Whether the version can also be restored on this host from the object store (see `restorePlan`). */
  restorable: (volume: VolumeRecord, version: VersionRecord) => boolean;
  /** Expected throughput of a transfer, bytes per second (measured, or a default). */
  bytesPerSecond: number;
  /** Fixed cost of starting a transfer (connection, stream set-up), ms. */
  setupMs: number;
  /** How long an attach may wait for a pull before it takes what this host holds. */
  budgetMs: number;
}

/** Where a pull or prefetch of the head gets it from. */
export type PlacementSource = { kind: 'peer'; host: string } | { kind: 'objects' };

/** What a pull of the head is expected to cost. */
export interface TransferEstimate {
  /** The version this host holds that the stream can be relative to, or `null` (whole). */
  baseId: string | null;
  /** Bytes expected on the wire. */
  bytes: number;
  /** Expected duration, ms (set-up included). */
  ms: number;
}

/** The outcome of {@link planAttach}. */
export interface AttachPlan {
  /**
   * `local`: attach from what this host holds (a hit when it holds the head, or nothing can
   * be fetched); `pull`: pull the head first, within the budget, then attach; `prefetch`:
   * attach from what this host holds now and fetch the head in the background.
   */
  action: 'local' | 'pull' | 'prefetch';
  /** What an attach gets from this host's own versions (the fallback of a pull that fails or runs late). */
  local: Selection;
  /** The head to fetch (`pull`, `prefetch`), else `null`. */
  head: VersionRecord | null;
  /** Where to fetch it from, in order (peers that hold it, then the object store). */
  sources: PlacementSource[];
  /** The expected cost (`pull`, `prefetch`), else `null`. */
  estimate: TransferEstimate | null;
}

/**
 * The share of a version an incremental is taken to carry when nothing better is known: a tenth
 * (or the growth in used bytes, when larger). Only an estimate: the attach's budget bounds the
 * wait whatever the stream turns out to be.
 */
export const UNKNOWN_CHANGE_SHARE = 0.1;

/**
 * The committed versions of `volume` that `host` holds, nearest ancestors of `versionId` first
 * (then the others, newest first): the bases a stream of `versionId` can be relative to.
 *
 * @param volume - the volume
 * @param versionId - the version to fetch
 * @param host - the receiving host
 */
export function heldBases(
  volume: VolumeRecord | null | undefined,
  versionId: string,
  host: string,
): string[] {
  if (!volume) return [];
  const ancestors: string[] = [];
  for (let id = volume.versions[versionId]?.baseId; id; id = volume.versions[id]?.baseId ?? null) {
    if (ancestors.includes(id)) break;
    ancestors.push(id);
  }
  const others = [...volume.versionIds].reverse().filter((id) => id !== versionId && !ancestors.includes(id));
  return [...ancestors, ...others].filter((id) => {
    const version = volume.versions[id];
    return version?.state === 'committed' && version.hosts.includes(host);
  });
}

/**
 * What a pull of `version` to `host` is expected to cost: relative to the nearest ancestor the
 * host holds (the larger of the growth in used bytes and {@link UNKNOWN_CHANGE_SHARE} of the
 * version), else whole.
 *
 * @param volume - the volume
 * @param version - the version to fetch
 * @param host - the receiving host
 * @param fleet - throughput and set-up cost
 */
export function estimateTransfer(
  volume: VolumeRecord,
  version: VersionRecord,
  host: string,
  fleet: Pick<FleetView, 'bytesPerSecond' | 'setupMs'>,
): TransferEstimate {
  const baseId = heldBases(volume, version.id, host)[0] ?? null;
  const base = baseId ? volume.versions[baseId] : undefined;
  const bytes = base
    ? Math.min(
        version.usedBytes,
        Math.max(version.usedBytes - base.usedBytes, Math.ceil(version.usedBytes * UNKNOWN_CHANGE_SHARE)),
      )
    : version.usedBytes;
  return { baseId, bytes, ms: fleet.setupMs + (bytes / fleet.bytesPerSecond) * 1000 };
}

/**
 * Plans an attach on `request.host`: `local` when the host holds the head (a hit), when the head
 * may not be used (expired, or as busy as `maxForksPerVersion` allows), when this host is
 * receiving it already, or when no peer that holds it is known and the object store cannot
 * restore it; `pull` when the estimate fits the
 * budget; `prefetch` otherwise. `local` is always the selection among this host's own versions,
 * so a pull that fails or runs past the budget still attaches within the bounds of the policy.
 *
 * @param volume - the volume, or `undefined` when it has never been committed
 * @param forks - forks of any volume (for the usage bound)
 * @param request - the requesting host and the time
 * @param policy - the selection policy (its `transfer` is ignored: only local versions are forked)
 * @param fleet - peers, object store, throughput and budget
 */
export function planAttach(
  volume: VolumeRecord | undefined,
  forks: Iterable<ForkRecord>,
  request: { host: string; now: number },
  policy: Policy,
  fleet: FleetView,
): AttachPlan {
  const forkList = [...forks];
  const local = selectParent(volume, forkList, request, { ...policy, transfer: false });
  const none: AttachPlan = { action: 'local', local, head: null, sources: [], estimate: null };
  const head = headOf(volume);
  if (!volume || !head || local.result === 'hit') return none;
  // The head must be one the policy would give anywhere: unexpired and under the usage bound.
  const anywhere = selectParent(volume, forkList, request, {
    ...policy,
    transfer: true,
    maxStaleVersions: 0,
  });
  if (anywhere.version?.id !== head.id) return none;
  // A receive of it here is under way already (a prefetch): this attach does not wait for it.
  if ((head.receiving?.[request.host] ?? Number.NEGATIVE_INFINITY) > request.now) return none;
  const sources: PlacementSource[] = fleet.peers
    .filter((peer) => peer !== request.host && head.hosts.includes(peer))
    .map((host) => ({ kind: 'peer', host }));
  if (fleet.restorable(volume, head)) sources.push({ kind: 'objects' });
  if (sources.length === 0) return none;
  const estimate = estimateTransfer(volume, head, request.host, fleet);
  const action = estimate.ms <= fleet.budgetMs ? 'pull' : 'prefetch';
  return { action, local, head, sources, estimate };
}
