import { CacheVolumeError } from '../errors.js';

/**
 * Throws the `ALREADY_EXISTS` error of a commit into a version that exists but was not made
 * from this fork: the version is never replaced, and the fork is kept as it is.
 *
 * @param forkId - the fork being committed
 * @param versionId - the version that exists already
 * @param details - more facts for `details` (a root, a dataset)
 * @throws `CacheVolumeError` `ALREADY_EXISTS`, always
 */
export function versionExists(
  forkId: string,
  versionId: string,
  details: Record<string, unknown> = {},
): never {
  throw new CacheVolumeError(
    'ALREADY_EXISTS',
    `Cannot commit fork "${forkId}" as version "${versionId}": that version already exists.`,
    { details: { forkId, versionId, ...details } },
  );
}
