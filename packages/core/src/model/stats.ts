import { countsWithin } from './history.js';
import { headOf } from './selection.js';
import type { AttachCounts, VolumeKey, VolumeSlice } from './state.js';
import { isLive } from './state.js';

/** Attach counts over a window of time, with their hit ratio. */
export interface WindowStats extends AttachCounts {
  /** `hit / (hit + stale + miss)`, or `null` without attaches in the window. */
  hitRatio: number | null;
}

/** What {@link volumeStats} reports for one volume. */
export interface VolumeStats extends VolumeKey {
  /** Attach counts. */
  counts: AttachCounts;
  /** `hit / (hit + stale + miss)`, or `null` before the first attach. */
  hitRatio: number | null;
  /**
   * The counts of the last 24 hours and the last 7 days (in whole hours, the current one
   * included), so a ratio that changes shows; counts from before a volume kept its history are
   * only in {@link VolumeStats.counts}.
   */
  recent: { day: WindowStats; week: WindowStats };
  /**
   * The head holds no data (0 bytes): its hits give an empty cache, which usually means the jobs
   * write their cache somewhere else than the cache paths.
   */
  emptyHead: boolean;
  /** Committed versions held. */
  versions: number;
  /** The head's id, or `null`. */
  headId: string | null;
  /** The head's used bytes (the volume's size as a user sees it), 0 without a head. */
  headBytes: number;
  /** Bytes used by all versions held. */
  storedBytes: number;
  /** Forks not yet committed or abandoned. */
  liveForks: number;
  /** The last attach or commit (ms since epoch). */
  lastUsedAt: number;
}

function windowStats(counts: AttachCounts): WindowStats {
  const attaches = counts.hit + counts.stale + counts.miss;
  return { ...counts, hitRatio: attaches === 0 ? null : counts.hit / attaches };
}

/**
 * One volume's statistics, or `null` for a slice without a volume record.
 *
 * @param slice - the volume's slice
 * @param now - the time the recent windows end (ms since epoch)
 */
export function sliceStats(slice: VolumeSlice, now: number): VolumeStats | null {
  const volume = slice.volume;
  if (!volume) return null;
  const head = headOf(volume);
  const versions = Object.values(volume.versions).filter((v) => v.state === 'committed');
  const { hitRatio } = windowStats(volume.counts);
  return {
    scope: volume.scope,
    name: volume.name,
    counts: { ...volume.counts },
    hitRatio,
    recent: {
      day: windowStats(countsWithin(volume.hourly, now, 24)),
      week: windowStats(countsWithin(volume.hourly, now, 7 * 24)),
    },
    emptyHead: head !== undefined && head.usedBytes === 0,
    versions: versions.length,
    headId: head?.id ?? null,
    headBytes: head?.usedBytes ?? 0,
    storedBytes: versions.reduce((sum, v) => sum + v.usedBytes, 0),
    liveForks: Object.values(slice.forks).filter(isLive).length,
    lastUsedAt: volume.lastUsedAt,
  };
}

/**
 * Per-volume statistics, sorted by scope then name.
 *
 * @param slices - the volumes' slices
 * @param now - the time the recent windows end (ms since epoch)
 */
export function volumeStats(slices: Iterable<VolumeSlice>, now: number): VolumeStats[] {
  const out: VolumeStats[] = [];
  for (const slice of slices) {
    const stats = sliceStats(slice, now);
    if (stats) out.push(stats);
  }
  return out.sort((a, b) =>
    // Stryker disable next-line EqualityOperator,ConditionalExpression: no two volumes have the same scope and name, so the last comparison is always true
    a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}
