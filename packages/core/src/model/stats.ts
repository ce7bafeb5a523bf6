import { headOf } from './selection.js';
import type { AttachCounts, VolumeKey, VolumeSlice } from './state.js';
import { isLive } from './state.js';

/** What {@link volumeStats} reports for one volume. */
export interface VolumeStats extends VolumeKey {
  /** Attach counts. */
  counts: AttachCounts;
  /** `hit / (hit + stale + miss)`, or `null` before the first attach. */
  hitRatio: number | null;
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

/**
 * One volume's statistics, or `null` for a slice without a volume record.
 *
 * @param slice - the volume's slice
 */
export function sliceStats(slice: VolumeSlice): VolumeStats | null {
  const volume = slice.volume;
  if (!volume) return null;
  const head = headOf(volume);
  const versions = Object.values(volume.versions).filter((v) => v.state === 'committed');
  const attaches = volume.counts.hit + volume.counts.stale + volume.counts.miss;
  return {
    scope: volume.scope,
    name: volume.name,
    counts: { ...volume.counts },
    hitRatio: attaches === 0 ? null : volume.counts.hit / attaches,
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
 */
export function volumeStats(slices: Iterable<VolumeSlice>): VolumeStats[] {
  const out: VolumeStats[] = [];
  for (const slice of slices) {
    const stats = sliceStats(slice);
    if (stats) out.push(stats);
  }
  return out.sort((a, b) =>
    // Stryker disable next-line EqualityOperator,ConditionalExpression: no two volumes have the same scope and name, so the last comparison is always true
    a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}
