import { setTimeout as sleep } from 'node:timers/promises';
import { CacheVolumeError } from '@cachevol/core';
import { lock } from 'proper-lockfile';

/**
 * A lock is stale (its holder died) when its lock directory's mtime is older than this; a live
 * holder refreshes the mtime every `STALE_MS / 2`.
 */
export const STALE_MS = 10_000;

/** First and largest pause between attempts to take a held lock (doubling, with jitter). */
const BACKOFF_MS = { first: 5, max: 100 } as const;

const errnoCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Runs `work` while holding the cross-process lock of `file`: `proper-lockfile` makes the
 * directory `<file>.lock` with `mkdir` (atomic on local filesystems, and on NFS), refreshes its
 * mtime while held, and treats it as stale (a crashed holder) once the mtime is older than
 * {@link STALE_MS}, so a killed process never blocks the store for long. A held lock is
 * retried with exponential backoff and jitter until `timeoutMs` has passed.
 *
 * If the lock is lost while held (the process stalled past the stale time and another took
 * over), `assertHeld` throws, so the caller does not write over the other holder's work.
 *
 * @param file - the file the lock protects (it need not exist)
 * @param timeoutMs - how long to wait for a held lock
 * @param work - gets `assertHeld`, to call right before writing
 * @throws `STORE_FAILED` when the lock cannot be taken in time or cannot be made
 */
export async function withFileLock<T>(
  file: string,
  timeoutMs: number,
  work: (assertHeld: () => void) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lost: Error | undefined;
  let release: () => Promise<void>;
  for (let pause: number = BACKOFF_MS.first; ; pause = Math.min(pause * 2, BACKOFF_MS.max)) {
    try {
      release = await lock(file, {
        realpath: false,
        stale: STALE_MS,
        retries: 0,
        onCompromised: (error) => {
          lost = error;
        },
      });
      break;
    } catch (error) {
      const left = deadline - Date.now();
      if (errnoCode(error) !== 'ELOCKED') {
        throw new CacheVolumeError(
          'STORE_FAILED',
          `Cannot lock the state file ${file}: ${(error as Error).message}. Check that its directory is writable.`,
          {
            cause: error,
            details: { path: file, lock: `${file}.lock` },
          },
        );
      }
      if (left <= 0) {
        throw new CacheVolumeError(
          'STORE_FAILED',
          `Timed out after ${timeoutMs} ms waiting for the lock ${file}.lock, held by another process. If no cachevol process is running, the lock is stale and is taken over ${STALE_MS / 1000} s after its holder stopped; otherwise raise lockTimeoutMs.`,
          { cause: error, details: { path: file, lock: `${file}.lock`, timeoutMs } },
        );
      }
      await sleep(Math.min(left, pause * (0.5 + Math.random())));
    }
  }
  const assertHeld = () => {
    if (lost) {
      throw new CacheVolumeError(
        'STORE_FAILED',
        `Lost the lock ${file}.lock while holding it (${lost.message}); the update was not written. Retry it.`,
        {
          cause: lost,
          details: { path: file },
        },
      );
    }
  };
  try {
    return await work(assertHeld);
  } finally {
    await release().catch(() => undefined);
  }
}
