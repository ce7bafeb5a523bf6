import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { CacheVolumeError } from '../errors.js';

/**
 * The `code` of a Node.js system error (`ENOENT`, `ENOSPC`), or the `details.errno` of a
 * `CacheVolumeError` (a failed command's, see `errnoFromStderr`; a program that could not be
 * started), or `undefined`. Never a `CacheVolumeError`'s own `code`, which is not an errno.
 *
 * @param error - anything caught
 */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof CacheVolumeError) {
    const errno = error.details.errno;
    return typeof errno === 'string' ? errno : undefined;
  }
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `lstat` that answers `null` for a missing path. Never follows a symlink: a link where a fork
 * or version should be is reported as the link it is.
 *
 * @param path - the path
 * @returns its stats, or `null` when nothing is there (`ENOENT`)
 * @throws any other error of `lstat` (`EACCES`, `ENOTDIR`, ...)
 */
export async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Tells whether `path` is a real directory (a symlink to one does not count).
 *
 * @param path - the path
 */
export async function isDirectory(path: string): Promise<boolean> {
  return (await statOrNull(path))?.isDirectory() ?? false;
}

/**
 * The names in a directory, or none when it does not exist.
 *
 * @param dir - the directory
 * @throws any error of `readdir` but `ENOENT`
 */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}
