import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type TreeEntry, walkTree } from './walk.js';

/** What is compared of one entry. */
interface Summary {
  type: TreeEntry['type'];
  /** The file type bits and permissions (`st_mode`). */
  mode: number;
  /** The device number of a device file (0 otherwise). */
  rdev: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  target: string | null;
}

/** Copies keep times through a `double` in seconds, so they may differ from the source by a few ns. */
const MTIME_TOLERANCE_MS = 1;

async function summarize(root: string): Promise<Map<string, Summary>> {
  const out = new Map<string, Summary>();
  await walkTree(root, async ({ path, type, stats }) => {
    out.set(path, {
      type,
      mode: stats.mode,
      rdev: type === 'other' ? stats.rdev : 0,
      uid: stats.uid,
      gid: stats.gid,
      size: type === 'dir' ? 0 : stats.size,
      mtimeMs: stats.mtimeMs,
      target: type === 'symlink' ? await readlink(join(root, path)) : null,
    });
  });
  return out;
}

function same(a: Summary, b: Summary): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.rdev === b.rdev &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.size === b.size &&
    a.target === b.target &&
    Math.abs(a.mtimeMs - b.mtimeMs) < MTIME_TOLERANCE_MS
  );
}

/**
 * Tells whether two trees differ, by metadata (like rsync's quick check): the set of paths, and
 * each entry's type (a FIFO, socket or device file too, and a device's number), permissions,
 * owner, size, modification time and symlink target. A copy made by `copyTree` matches its
 * source; writing, creating, deleting, renaming or chmod-ing anything makes them differ. Not
 * seen: a write that keeps a file's size and then restores its mtime (`touch -r`), and changes of
 * extended attributes alone (Node.js cannot read them).
 *
 * @param a - one tree's root
 * @param b - the other tree's root
 */
export async function treesDiffer(a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([summarize(a), summarize(b)]);
  if (left.size !== right.size) return true;
  for (const [path, summary] of left) {
    const other = right.get(path);
    if (!other || !same(summary, other)) return true;
  }
  return false;
}

/**
 * Tells whether a directory holds anything.
 *
 * @param root - the directory
 */
export async function hasEntries(root: string): Promise<boolean> {
  let found = false;
  await walkTree(root, ({ path }) => {
    if (path !== '') found = true;
  });
  return found;
}
