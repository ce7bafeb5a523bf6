import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from './errors.js';
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
