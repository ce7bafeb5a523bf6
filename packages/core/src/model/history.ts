import type { AttachCounts, HourCounts } from './state.js';

/** One hour, in milliseconds. */
export const HOUR_MS = 60 * 60 * 1000;

/** How many hours of attach counts a volume keeps (7 days). */
export const HISTORY_HOURS = 7 * 24;

/**
 * Counts one attach in a volume's hourly history: in the bucket of the current hour (made when
 * missing), dropping buckets older than {@link HISTORY_HOURS}.
 *
 * @param hourly - the volume's buckets, oldest first (none for a volume made before them)
 * @param now - the attach's time (ms since epoch)
 * @param result - what the attach got
 * @returns the new buckets
 */
export function countAttach(
  hourly: readonly HourCounts[] | undefined,
  now: number,
  result: keyof AttachCounts,
): HourCounts[] {
  const hour = Math.floor(now / HOUR_MS);
  // Stryker disable next-line ArrayDeclaration: a made-up bucket has no hour, so the filter drops it
  const kept = (hourly ?? []).filter((bucket) => bucket.hour > hour - HISTORY_HOURS);
  const last = kept.at(-1);
  if (last?.hour === hour) return [...kept.slice(0, -1), { ...last, [result]: last[result] + 1 }];
  return [...kept, { hour, hit: 0, stale: 0, miss: 0, [result]: 1 }];
}

/**
 * The attach counts of the last `hours` hours, the current one included.
 *
 * @param hourly - the volume's buckets
 * @param now - the time the window ends (ms since epoch)
 * @param hours - the window's length in hours
 */
export function countsWithin(
  hourly: readonly HourCounts[] | undefined,
  now: number,
  hours: number,
): AttachCounts {
  const hour = Math.floor(now / HOUR_MS);
  const total: AttachCounts = { hit: 0, stale: 0, miss: 0 };
  for (const bucket of hourly ?? []) {
    if (bucket.hour <= hour - hours || bucket.hour > hour) continue;
    total.hit += bucket.hit;
    total.stale += bucket.stale;
    total.miss += bucket.miss;
  }
  return total;
}
