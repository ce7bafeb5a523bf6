import type fc from 'fast-check';

/**
 * Run parameters for every property test, from the environment:
 *
 * - `CACHEVOL_PROPERTY_RUNS`: number of runs (raise it for deep runs);
 * - `CACHEVOL_SEED` and `CACHEVOL_PATH`: replay a failure that fast-check printed
 *   (`Counterexample ... seed: X, path: "Y"`).
 *
 * fast-check prints the seed and path of every failure in the thrown error, so a failing run can
 * be replayed exactly.
 *
 * @param defaultRuns - runs when `CACHEVOL_PROPERTY_RUNS` is not set
 * @param env - the environment to read
 * @defaultValue `defaultRuns` 100
 */
export function propertyParameters<T>(
  defaultRuns = 100,
  env: Record<string, string | undefined> = process.env,
): fc.Parameters<T> {
  const runs = Number.parseInt(env.CACHEVOL_PROPERTY_RUNS ?? '', 10);
  const seed = Number.parseInt(env.CACHEVOL_SEED ?? '', 10);
  const params: fc.Parameters<T> = { numRuns: Number.isFinite(runs) && runs > 0 ? runs : defaultRuns };
  if (Number.isFinite(seed)) {
    params.seed = seed;
    if (env.CACHEVOL_PATH) params.path = env.CACHEVOL_PATH;
  }
  return params;
}
