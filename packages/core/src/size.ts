import { CacheVolumeError } from './errors.js';

/** Bytes in one `g` (a gibibyte, 2^30 bytes). */
export const GIB = 2 ** 30;
/** The default and minimum requested size, in gigabytes. */
export const MIN_SIZE_GB = 20;
/** The default and minimum requested size, in bytes (`20g`). */
export const DEFAULT_SIZE_BYTES = MIN_SIZE_GB * GIB;
/** The largest size accepted, in gigabytes (1 PiB), so byte counts stay exact integers. */
export const MAX_SIZE_GB = 1024 * 1024;

/**
 * Parses a size written `Ng` (N whole gigabytes, `1g` = 2^30 bytes), as pipeline.yml does.
 *
 * @param text - e.g. `"20g"`, `"100g"`; `undefined` gives the default
 * @returns the size in bytes
 * @defaultValue `20g` when `text` is `undefined`
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for malformed sizes (`20`, `20gb`, `-1g`,
 *   `1.5g`) and sizes below the `20g` minimum
 *
 * @example
 * ```ts
 * parseSize('100g') // 107374182400
 * ```
 */
export function parseSize(text?: string): number {
  if (text === undefined) return DEFAULT_SIZE_BYTES;
  const match = typeof text === 'string' ? /^([1-9][0-9]{0,6})g$/.exec(text) : null;
  if (!match) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid size ${JSON.stringify(text)}: write whole gigabytes as "Ng", for example "20g" (the default and minimum).`,
      { details: { size: text } },
    );
  }
  const gb = Number(match[1]);
  if (gb < MIN_SIZE_GB || gb > MAX_SIZE_GB) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid size "${text}": sizes must be between ${MIN_SIZE_GB}g and ${MAX_SIZE_GB}g.`,
      { details: { size: text } },
    );
  }
  return gb * GIB;
}

/**
 * Writes a byte count the way sizes are read: whole gigabytes as `Ng` when exact, otherwise a
 * human figure (`1.5 GiB`, `12 MiB`).
 *
 * @param bytes - a non-negative byte count
 */
export function formatSize(bytes: number): string {
  if (bytes > 0 && bytes % GIB === 0) return `${bytes / GIB}g`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * The capacity a new fork gets: on a hit (or stale hit) the base version's used bytes plus the
 * requested size; on a miss the requested size.
 *
 * @param requestedBytes - the requested size in bytes (already validated)
 * @param baseUsedBytes - the used bytes of the version being forked, or `undefined` on a miss
 */
export function forkCapacity(requestedBytes: number, baseUsedBytes?: number): number {
  return requestedBytes + (baseUsedBytes ?? 0);
}
