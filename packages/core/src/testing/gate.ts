import { describe, it } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why a gated suite was skipped (set only when its gate said no). */
    skipReason?: string;
  }
}

/** Options for {@link describeIfAvailable}. */
export interface AvailabilityOptions {
  /**
   * The environment whose `CI` decides between skipping and failing.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
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
  unavailable: string | undefined | (() => string | undefined),
  title: string,
  body: () => void,
  options: AvailabilityOptions = {},
): void {
  const reason = typeof unavailable === 'function' ? unavailable() : unavailable;
  if (reason === undefined) {
    describe(title, body);
  } else if ((options.env ?? process.env).CI !== 'true') {
    describe(title, { skip: true, meta: { skipReason: reason } }, body);
  } else {
    describe(title, () => {
      it('has what it needs to run', () => {
        throw new Error(`${title}: cannot run under CI=true: ${reason}`);
      });
    });
  }
}
