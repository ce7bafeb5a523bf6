import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import { errnoCode, spawnCommand } from '@cachevol/core/backend-kit';
import { walkTree } from './walk.js';

/**
 * Deletes a tree; a missing path is fine. Symlinks are removed, never followed. What stops a
 * plain `rm` is cleared and the removal retried once: read-only directories (Go's module cache
 * makes them) get owner write permission, and, as root, immutable and append-only files (`chattr
 * +i`, `+a`, which a job may set in its cache) lose those flags (`chattr -R -f -i -a`, which
 * ignores symlinks). Node reports an immutable file as `ENOTDIR` (its `rmdir` fallback), so that
 * counts too.
 *
 * @param path - the tree to delete
 * @throws `BACKEND_FAILED` naming the tree and what to do, when it still cannot be deleted
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTDIR') throw error;
    await walkTree(path, async (entry) => {
      if (entry.type === 'dir') await chmod(join(path, entry.path), (entry.stats.mode & 0o7777) | 0o700);
    });
    if (process.getuid?.() === 0) await clearFlags(path);
    await rm(path, { recursive: true, force: true, maxRetries: 3 }).catch((again: unknown) => {
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `Cannot delete ${path}: ${again instanceof Error ? again.message : String(again)}. A file in it may be immutable or append-only (\`lsattr -R ${path}\`); clear that with \`chattr -R -i -a ${path}\` as root, then run \`cachevol gc\`.`,
        { cause: again, details: { path } },
      );
    });
  }
}

/** `chattr -R -f -i -a PATH`, best effort (no chattr, or a filesystem without flags, is fine). */
async function clearFlags(path: string): Promise<void> {
  await spawnCommand('chattr', ['-R', '-f', '-i', '-a', '--', path], { stdout: 'ignore' }).catch(
    () => undefined,
  );
}
