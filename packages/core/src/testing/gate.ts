import { describe, it, type TestFunction } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why a gated suite or test was skipped (set only when its gate said no). */
    skipReason?: string;
  }
}

/** Options for {@link describeIfAvailable} and {@link itIfAvailable}. */
export interface AvailabilityOptions {
  /**
   * The environment whose `CI` decides between skipping and failing.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
}

/** What a gate does: run the tests, skip them (with the reason), or fail (under `CI=true`). */
export type GateDecision = { action: 'run' } | { action: 'skip' | 'fail'; reason: string };

/** Why a test cannot run here (or a function that says), `undefined` when it can. */
export type Unavailable = string | undefined | (() => string | undefined);

/**
 * Decides what a gate does. Under `CI=true` every test must run, so a gate that says no is a
 * failure there; elsewhere it is a skip.
 *
 * @param unavailable - why the tests cannot run, or `undefined`
 * @param env - the environment (`CI`)
 */
export function decideAvailability(
  unavailable: Unavailable,
  env: NodeJS.ProcessEnv = process.env,
): GateDecision {
  const reason = typeof unavailable === 'function' ? unavailable() : unavailable;
  if (reason === undefined) return { action: 'run' };
  return { action: env.CI === 'true' ? 'fail' : 'skip', reason };
}

function ciFailure(title: string, reason: string): Error {
  return new Error(`${title}: cannot run under CI=true: ${reason}`);
}

/**
 * The one test gate of tests that need a real system (a tool, a kernel feature, a service): a
 * `describe` that runs `body` when `unavailable` gives no reason; otherwise skips the suite
 * with the reason (in `meta.skipReason`, for a reporter to print), or, under `CI=true`, where
 * every test must run, fails it with the reason. A skipped suite runs none of its hooks.
 *
 * @param unavailable - why the suite cannot run here (or a function that says), `undefined`
 *   when it can
 * @param title - the suite's title
 * @param body - the suite
 * @param options - the environment to read `CI` from
 *
 * @example
 * ```ts
 * describeIfAvailable(zfsProblem(), 'zfs backend on a real pool', () => {
 *   describeBackendConformance('zfs', { create: freshDataset })
 * })
 * ```
 */
export function describeIfAvailable(
  unavailable: Unavailable,
  title: string,
  body: () => void,
  options: AvailabilityOptions = {},
): void {
  const decision = decideAvailability(unavailable, options.env);
  if (decision.action === 'run') describe(title, body);
  else if (decision.action === 'skip')
    describe(title, { skip: true, meta: { skipReason: decision.reason } }, body);
  else {
    describe(title, () => {
      it('has what it needs to run', () => {
        throw ciFailure(title, decision.reason);
      });
    });
  }
}

/**
 * An `it` gated like {@link describeIfAvailable}: runs `fn` when `unavailable` gives no reason,
 * otherwise skips it with the reason, or fails it under `CI=true`.
 *
 * @param unavailable - why the test cannot run here (or a function that says), `undefined`
 *   when it can
 * @param title - the test's title
 * @param fn - the test
 * @param options - its timeout in ms, and the environment to read `CI` from
 */
export function itIfAvailable(
  unavailable: Unavailable,
  title: string,
  fn: TestFunction,
  options: AvailabilityOptions & { timeout?: number } = {},
): void {
  const decision = decideAvailability(unavailable, options.env);
  if (decision.action === 'run') it(title, fn, options.timeout);
  else if (decision.action === 'skip') it(title, { skip: true, meta: { skipReason: decision.reason } }, fn);
  else {
    it(title, () => {
      throw ciFailure(title, decision.reason);
    });
  }
}
