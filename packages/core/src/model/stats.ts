import { headOf } from './selection.js';
import type { AttachCounts, State, VolumeKey } from './state.js';
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
 * Per-volume statistics, sorted by scope then name.
 *
 * @param state - the state
 */
export function volumeStats(state: State): VolumeStats[] {
  const live = new Map<string, number>();
  for (const fork of Object.values(state.forks)) {
    if (!isLive(fork)) continue;
    const key = `${fork.scope}\u0000${fork.name}`;
    live.set(key, (live.get(key) ?? 0) + 1);
  }
  return Object.entries(state.volumes)
    .map(([key, volume]) => {
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
        liveForks: live.get(key) ?? 0,
        lastUsedAt: volume.lastUsedAt,
      };
    })
    .sort((a, b) => a.scope.localeCompare(b.scope) || a.name.localeCompare(b.name));
}
