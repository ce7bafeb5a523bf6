import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '@cachevol/core/backend-kit';
import { inodeKey, walkTree } from './walk.js';

/**
 * Flushes a file or directory to stable storage. Directories that refuse `fsync` (some
 * platforms and filesystems) are skipped: the data files are what matters.
 *
 * @param path - the file or directory
 * @param isDirectory - whether it is a directory
 */
export async function fsyncPath(path: string, isDirectory = false): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    const code = errnoCode(error);
    if (!(isDirectory && (code === 'EINVAL' || code === 'EISDIR' || code === 'EPERM' || code === 'EBADF')))
      throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Bytes a tree uses: the sizes (`lstat`) of its regular files, each hard-linked inode counted
 * once, plus the lengths of its symlinks. Directories and special files count as zero. With
 * `fsync`, every file and directory is also flushed to stable storage on the way.
 *
 * @param root - the tree's root directory
 * @param options - `fsync`: flush while walking
 */
export async function measureTree(root: string, options: { fsync?: boolean } = {}): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  await walkTree(root, async (entry) => {
    if (entry.type === 'file') {
      if (entry.stats.nlink > 1) {
        const key = inodeKey(entry.stats);
        if (seen.has(key)) return;
        seen.add(key);
      }
      total += entry.stats.size;
      if (options.fsync) await fsyncPath(join(root, entry.path));
    } else if (entry.type === 'symlink') {
      total += entry.stats.size;
    } else if (entry.type === 'dir' && options.fsync) {
      await fsyncPath(join(root, entry.path), true);
    }
  });
  return total;
}

/** What {@link smallTree} found: the bytes the tree uses, and what to flush. */
export interface SmallTree {
  /** As {@link measureTree} counts them. */
  usedBytes: number;
  /** The tree's directories (the root first) and regular files (each hard-linked inode once). */
  flush: { path: string; isDirectory: boolean }[];
}

/** Thrown to end a walk once a tree is known to be larger than asked. */
const TOO_LARGE = Symbol('too large');

/**
 * Measures a tree of at most `maxEntries` entries (the root included) and lists what flushing
 * it means, or tells that it is larger (`null`; the walk stops soon after `maxEntries`).
 *
 * @param root - the tree's root directory
 * @param maxEntries - the most entries a tree may hold to count as small
 */
export async function smallTree(root: string, maxEntries: number): Promise<SmallTree | null> {
  let entries = 0;
  let usedBytes = 0;
  const flush: SmallTree['flush'] = [];
  const seen = new Set<string>();
  try {
    await walkTree(root, (entry) => {
      if (++entries > maxEntries) throw TOO_LARGE;
      if (entry.type === 'dir') flush.push({ path: join(root, entry.path), isDirectory: true });
      else if (entry.type === 'symlink') usedBytes += entry.stats.size;
      else if (entry.type === 'file') {
        if (entry.stats.nlink > 1) {
          const key = inodeKey(entry.stats);
          if (seen.has(key)) return;
          seen.add(key);
        }
        usedBytes += entry.stats.size;
        flush.push({ path: join(root, entry.path), isDirectory: false });
      }
    });
  } catch (error) {
    if (error === TOO_LARGE) return null;
    throw error;
  }
  return { usedBytes, flush };
}
