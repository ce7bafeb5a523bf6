import { setTimeout as sleep } from 'node:timers/promises';
import { CommandFailedError } from '../errors.js';
import { errnoCode } from './fs.js';

/**
 * The default pauses between attempts of {@link retryWhileBusy}, in milliseconds (about 5 s in
 * all): long enough for a filesystem that releases a mount asynchronously (zfs-fuse, macOS disk
 * images), short enough that a really busy one is reported soon.
 */
export const BUSY_RETRY_DELAYS_MS: readonly number[] = Object.freeze([
  25, 50, 100, 200, 400, 800, 1500, 2000,
]);

/**
 * Tells whether an error means "busy, try again": `EBUSY`, or a failed command whose standard
 * error says busy.
 *
 * @param error - anything caught
 */
export function isBusyError(error: unknown): boolean {
  if (errnoCode(error) === 'EBUSY') return true;
  return error instanceof CommandFailedError && /\bbusy\b/i.test(error.stderr);
}

/** Options for {@link retryWhileBusy}. */
export interface RetryWhileBusyOptions {
  /**
   * Which errors are worth another attempt.
   * @defaultValue {@link isBusyError}
   */
  isBusy?: (error: unknown) => boolean;
  /**
   * The pauses between attempts; there is one attempt more than pauses.
   * @defaultValue {@link BUSY_RETRY_DELAYS_MS}
   */
  delaysMs?: readonly number[];
  /** How to pause (tests pass one that does not wait). @defaultValue `timers/promises` `setTimeout` */
  pause?: (ms: number) => Promise<unknown>;
}

/**
 * Runs `work` again while it fails with a busy error, pausing between attempts; the last
 * attempt's error, or any error that is not busy, is thrown as it is.
 *
 * @param work - the operation; gets the attempt number (0 first)
 * @param options - what counts as busy, the pauses
 * @returns what `work` returned
 *
 * @example
 * ```ts
 * await retryWhileBusy(() => runCommand('zfs', ['destroy', dataset]))
 * ```
 */
export async function retryWhileBusy<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryWhileBusyOptions = {},
): Promise<T> {
  const isBusy = options.isBusy ?? isBusyError;
  const delays = options.delaysMs ?? BUSY_RETRY_DELAYS_MS;
  const pause = options.pause ?? sleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work(attempt);
    } catch (error) {
      const delay = delays[attempt];
      if (delay === undefined || !isBusy(error)) throw error;
      await pause(delay);
    }
  }
}
