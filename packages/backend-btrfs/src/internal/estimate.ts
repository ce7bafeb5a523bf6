import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** How many entries {@link estimateBytes} looks at, at most. */
export const ESTIMATE_ENTRIES = 64;

/**
 * A quick, partial count of the bytes under `path`: the allocated bytes of the first `limit`
 * entries of a breadth-first walk (for an entry with none allocated, such as a directory, its
 * length up to 4 KiB). Positive as soon as the tree holds anything, so a fork with data never
 * looks empty; the exact figure comes from `btrfs filesystem du`, whose cost grows with the
 * number of files.
 *
 * @param path - a directory
 * @param limit - entries to look at
 */
export async function estimateBytes(path: string, limit = ESTIMATE_ENTRIES): Promise<number> {
  let total = 0;
  let seen = 0;
  const queue = [path];
  for (let dir = queue.shift(); dir !== undefined && seen < limit; dir = queue.shift()) {
    const names = (await readdir(dir).catch(() => [])).slice(0, limit - seen);
    seen += names.length;
    const stats = await Promise.all(names.map((name) => lstat(join(dir, name)).catch(() => undefined)));
    stats.forEach((stat, i) => {
      if (!stat) return;
      total += stat.blocks * 512 || Math.min(stat.size, 4096);
      if (stat.isDirectory()) queue.push(join(dir, names[i] as string));
    });
  }
  return total;
}
