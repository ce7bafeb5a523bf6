import { CacheVolumeError, isCacheVolumeError } from '@cachevol/core';

/**
 * The `code` of a Node.js file-system error, or `undefined`.
 *
 * @param error - anything caught
 */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Wraps a file-system failure as `BACKEND_FAILED` saying what was being done and where; passes
 * `CacheVolumeError`s through unchanged.
 *
 * @param action - what failed, e.g. `copying version v1 into fork f2`
 * @param path - the path involved
 * @param error - the caught error
 */
export function fsFailure(action: string, path: string, error: unknown): CacheVolumeError {
  if (isCacheVolumeError(error)) return error;
  const code = errnoCode(error);
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? ' The filesystem is full: free space or remove old versions (`gc`).'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? ' Check that this process may write there.'
        : '';
  const message = error instanceof Error ? error.message : String(error);
  return new CacheVolumeError('BACKEND_FAILED', `The dir backend failed ${action}: ${message}.${hint}`, {
    cause: error,
    details: { path, errno: code },
  });
}
