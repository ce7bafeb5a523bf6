import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumeError } from '../../errors.js';

/**
 * Making a directory inside a fork without ever following a link: a committed version may hold
 * a symlink (to `/etc`, to `../..`, dangling) where a cache sub-directory should be, and nothing
 * may be read or written through it.
 */

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** `lstat`, or `null` when nothing is there. */
export async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * Makes `root/subdir` a real directory, one component at a time: a missing component is
 * created; a symlink or file in the way (which can only come from the fork's own data, a private
 * copy) is removed (never followed) and replaced by an empty directory.
 *
 * @param root - the fork's mount path (must itself be a real directory)
 * @param subdir - a relative path with `/` separators and no `..`
 * @returns the paths (relative to `root`) that were replaced because they were not directories
 * @throws `INTERNAL` when `root` is not a real directory
 */
export async function ensureForkDirectory(root: string, subdir: string): Promise<string[]> {
  const top = await lstatOrNull(root);
  if (!top?.isDirectory()) {
    throw new CacheVolumeError('INTERNAL', `The fork at ${root} is not a directory; cannot link into it.`, {
      details: { path: root },
    });
  }
  const replaced: string[] = [];
  const parts = subdir.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new CacheVolumeError('INVALID_ARGUMENT', `Cache sub-directory ${subdir} may not contain "..".`);
  }
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    for (let attempt = 0; ; attempt++) {
      const info = await lstatOrNull(current);
      if (info?.isDirectory()) break;
      if (info) {
        await rm(current, { force: true });
        replaced.push(parts.slice(0, i + 1).join('/'));
      }
      try {
        await mkdir(current);
        break;
      } catch (error) {
        // Someone made it meanwhile: look again (a directory is fine, anything else is replaced).
        if (errnoOf(error) !== 'EEXIST' || attempt >= 2) throw error;
      }
    }
  }
  return replaced;
}

/**
 * Removes a tree inside a fork. Never follows a symlink: links are removed as links.
 *
 * @param path - the tree
 */
export async function removeForkTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
}
