import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** One entry of a directory tree. */
export interface TreeEntry {
  /** Path relative to the tree's root, `/`-separated; `''` for the root itself. */
  path: string;
  /** What it is; anything else (sockets, FIFOs, devices) is `other`. */
  type: 'dir' | 'file' | 'symlink' | 'other';
  /** Its `lstat`: symlinks are never followed. */
  stats: Stats;
}

/** How many `lstat`s (and entry callbacks) run at once. */
const PARALLEL = 32;

function typeOf(stats: Stats): TreeEntry['type'] {
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

/**
 * Visits every entry of a directory tree, parents before children, without following
 * symlinks (a symlink to a directory is an entry, never descended into), so a walk never
 * leaves the tree.
 *
 * @param root - the tree's root; must be a real directory, not a symlink
 * @param visit - called once per entry (up to {@link PARALLEL} at a time within a directory)
 * @throws `ENOTDIR` (as a Node.js error) when `root` is not a directory
 */
export async function walkTree(
  root: string,
  visit: (entry: TreeEntry) => void | Promise<void>,
): Promise<void> {
  const rootStats = await lstat(root);
  if (!rootStats.isDirectory()) {
    throw Object.assign(new Error(`${root} is not a directory`), { code: 'ENOTDIR', path: root });
  }
  await visit({ path: '', type: 'dir', stats: rootStats });
  const pending = [''];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const names = (await readdir(join(root, dir))).sort();
    for (let i = 0; i < names.length; i += PARALLEL) {
      const entries = await Promise.all(
        names.slice(i, i + PARALLEL).map(async (name) => {
          const path = dir === '' ? name : `${dir}/${name}`;
          const stats = await lstat(join(root, path));
          return { path, type: typeOf(stats), stats };
        }),
      );
      await Promise.all(entries.map((entry) => visit(entry)));
      for (const entry of entries) if (entry.type === 'dir') pending.push(entry.path);
    }
  }
}

/**
 * The identity of a file's inode, to find hard links.
 *
 * @param stats - its `lstat`
 */
export function inodeKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}
