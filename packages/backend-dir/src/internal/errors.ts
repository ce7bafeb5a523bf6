import { CacheVolumeError, CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { errnoCode } from '@cachevol/core/backend-kit';

/**
 * Wraps a file-system failure as `BACKEND_FAILED` saying what was being done and where, with a
 * hint for a full, read-only or forbidden filesystem. A failed command (`CommandFailedError`,
 * e.g. from `cp`) is wrapped the same way and kept as the `cause`, its command, arguments, exit
 * code and stderr in `details`; other `CacheVolumeError`s pass through unchanged.
 *
 * @param action - what failed, e.g. `copying version v1 into fork f2`
 * @param path - the path involved
 * @param error - the caught error
 */
export function fsFailure(action: string, path: string, error: unknown): CacheVolumeError {
  if (isCacheVolumeError(error) && !(error instanceof CommandFailedError)) return error;
  const code = errnoCode(error);
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? ' The filesystem is full: free space or remove old versions (`gc`).'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? ' Check that this process may write there.'
        : '';
  const message = error instanceof Error ? error.message : String(error);
  const command = error instanceof CommandFailedError ? error.details : {};
  return new CacheVolumeError('BACKEND_FAILED', `The dir backend failed ${action}: ${message}.${hint}`, {
    cause: error,
    details: { ...command, path, errno: code },
  });
}
