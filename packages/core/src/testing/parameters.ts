import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type fc from 'fast-check';

/** Where failing seeds are kept unless `CACHEVOL_SEED_LOG` says otherwise. */
export const DEFAULT_SEED_LOG = 'test-results/failing-seeds.jsonl';

/**
 * A fast-check plugin that appends every failure's seed, path and counterexample to a JSON
 * Lines file, so a failure seen once (in CI, in a deep run) is kept and can be replayed later.
 *
 * @param file - the log file (created with its directory)
 */
export function seedLogPlugin<T>(file: string): fc.Plugin<T> {
  return () => ({
    onAllRunsComplete(details) {
      if (!details.failed) return;
      const entry = {
        at: new Date().toISOString(),
        seed: details.seed,
        path: details.counterexamplePath,
        counterexample: String(details.counterexample),
        replay: `CACHEVOL_SEED=${details.seed} CACHEVOL_PATH=${details.counterexamplePath ?? ''}`,
      };
      try {
        mkdirSync(dirname(file), { recursive: true });
        appendFileSync(file, `${JSON.stringify(entry)}\n`);
      } catch {
        // keeping the seed is a courtesy; the failure itself is still reported
      }
    },
  });
}

/**
 * Run parameters for every property test, from the environment:
 *
 * - `CACHEVOL_PROPERTY_RUNS`: number of runs (raise it for deep runs);
 * - `CACHEVOL_SEED` and `CACHEVOL_PATH`: replay a failure that fast-check printed
 *   (`Counterexample ... seed: X, path: "Y"`);
 * - `CACHEVOL_SEED_LOG`: where failures are kept (default {@link DEFAULT_SEED_LOG}, relative to
 *   the working directory).
 *
 * fast-check prints the seed and path of every failure in the thrown error, and
 * {@link seedLogPlugin} keeps them in the seed log, so a failing run can be replayed exactly.
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
  const params: fc.Parameters<T> = {
    numRuns: Number.isFinite(runs) && runs > 0 ? runs : defaultRuns,
    plugins: [seedLogPlugin<T>(resolve(env.CACHEVOL_SEED_LOG ?? DEFAULT_SEED_LOG))],
  };
  if (Number.isFinite(seed)) {
    params.seed = seed;
    if (env.CACHEVOL_PATH) params.path = env.CACHEVOL_PATH;
  }
  return params;
}
