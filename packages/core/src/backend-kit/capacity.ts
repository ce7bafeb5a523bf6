import type { ForkOptions } from '../contracts/backend.js';
import { CacheVolumeError } from '../errors.js';

/**
 * Checks a fork's capacity as the `Backend` contract requires: a positive, safe whole number
 * of bytes. `defineBackend` applies it to every `createFork` and `forkVersion` before the
 * backend's own code runs.
 *
 * @param options - the fork options as passed to the backend (checked, even when missing)
 * @returns the capacity in bytes
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` naming the bad value
 */
export function checkCapacity(options: ForkOptions | undefined): number {
  const bytes: unknown = options?.capacityBytes;
  if (typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes > 0) return bytes;
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid capacityBytes ${String(bytes)}: expected a positive whole number of bytes.`,
    { details: { capacityBytes: bytes } },
  );
}
