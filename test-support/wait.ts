/**
 * Waiting in tests for a condition, never for a time: a test that needs something to have
 * happened (a file to appear, space to be freed, a device to be released) polls for it with a
 * generous deadline, so it goes on as soon as the condition holds, however loaded the machine.
 *
 * Test files import this relatively; it is part of no published package.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** What is awaited, for the error on timeout ("the fork's lease to expire"). */
  what: string;
  /**
   * How long to wait at most: a deadline for something that has gone wrong, far above the
   * time the condition takes on a loaded machine (starting a `cachevol` process and attaching
   * took up to 15 s on 2 cores at load 25).
   * @defaultValue 60000
   */
  timeoutMs?: number;
  /**
   * The pause between checks.
   * @defaultValue 25
   */
  intervalMs?: number;
}

/**
 * Calls `check` until it returns something other than `undefined`, `null` or `false`, and
 * returns that. An exception from `check` ends the wait at once (use it for "the process this
 * waits on has exited").
 *
 * @param check - the condition; may be async
 * @param options - what is awaited, the deadline and the pause
 * @throws when the deadline passes first, naming what was awaited and the last value seen
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions,
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 25 } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${options.what}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Runs `attempt` until it stops throwing an error that `retryable` accepts (a device still
 * busy, say), and returns its result; any other error, or one after the deadline, is thrown.
 *
 * @param attempt - the operation
 * @param retryable - whether an error means "not yet"
 * @param options - what is awaited, the deadline and the pause
 */
export async function retrying<T>(
  attempt: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  options: WaitOptions,
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 100 } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error) || performance.now() > deadline) throw error;
    }
    await sleep(intervalMs);
  }
}
