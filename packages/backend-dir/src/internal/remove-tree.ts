import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from './errors.js';
import { walkTree } from './walk.js';

/**
 * Deletes a tree; a missing path is fine. Symlinks are removed, never followed. Read-only
 * directories (Go's module cache makes them) stop a non-root `rm`, so on `EACCES`/`EPERM` the
 * tree's directories get owner write permission and the removal is retried once.
 *
 * @param path - the tree to delete
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await walkTree(path, async (entry) => {
      if (entry.type === 'dir') await chmod(join(path, entry.path), (entry.stats.mode & 0o7777) | 0o700);
    });
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  }
}
