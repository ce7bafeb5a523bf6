import { setTimeout as sleep } from 'node:timers/promises';
import { isZfsFailure, type ZfsRunner } from './runner.js';

/**
 * Pauses between attempts of a command that failed with "dataset is busy" (about 5 s in all).
 * zfs-fuse releases a filesystem asynchronously after unmounting it, so a rename or destroy
 * right after an unmount, or right after a process last touched the mount, can fail with EBUSY
 * for a few tens of milliseconds; on OpenZFS a busy dataset is one a process really uses, and
 * the last attempt's error is reported.
 */
export const BUSY_RETRY_DELAYS_MS: readonly number[] = [25, 50, 100, 200, 400, 800, 1500, 2000];

/**
 * A runner that retries a command while it fails with "busy".
 *
 * @param runner - the runner to wrap
 * @param delays - pauses between attempts
 */
export function retryWhenBusy(
  runner: ZfsRunner,
  delays: readonly number[] = BUSY_RETRY_DELAYS_MS,
): ZfsRunner {
  return {
    async run(args) {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await runner.run(args);
        } catch (error) {
          const delay = delays[attempt];
          if (delay === undefined || !isZfsFailure(error, 'busy')) throw error;
          await sleep(delay);
        }
      }
    },
  };
}
