import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes a bundle holds on disk: the allocated blocks (`st_blocks × 512`) of every file under it
 * (its band files, `Info.plist`, `token`), walked in-process without following symlinks.
 *
 * Clones share blocks with the bundle they were cloned from; this counts them in full for each
 * clone (as `du` does), so the sum over several bundles over-states what the volume uses.
 *
 * @param dir - the bundle directory
 */
export async function allocatedBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    const stat = await lstat(current);
    total += stat.blocks * 512;
    if (!stat.isDirectory()) continue;
    for (const name of await readdir(current)) pending.push(join(current, name));
  }
  return total;
}
