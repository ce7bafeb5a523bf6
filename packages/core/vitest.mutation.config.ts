import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from '../../vitest.config.js';

/**
 * Runs the test files most likely to kill a mutant cheaply first: Stryker stops a mutant's run
 * at the first failing test, so the file that failed last comes first (neighbouring mutants
 * tend to die in the same file), then the quickest files (the `*.rules.test.ts` example tests
 * before the property and engine suites).
 */
class CheapestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const stats = (spec: TestSpecification) =>
      cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
    const rank = (spec: TestSpecification) => {
      const state = stats(spec);
      if (state?.failed) return -1;
      return state ? state.duration : spec.moduleId.endsWith('.rules.test.ts') ? 0 : 1e9;
    };
    return [...files].sort((a, b) => rank(a) - rank(b) || (a.moduleId < b.moduleId ? -1 : 1));
  }
}

/**
 * The tests that `npm run test:mutation` runs against each mutant of core's model, size math,
 * names and cache paths: core's unit, property and engine tests and the model-based engine
 * test over the memory backend. Left out: the dist smoke test (it needs a build and runs child
 * processes), the merge timing test, and the other packages' suites, which check none of the
 * mutated files' rules.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/core/test/**/*.test.ts', 'packages/backend-memory/test/engine-model.test.ts'],
    // merge-scaling compares run times, which no mutant of these files can change but a slow
    // sandbox can: it only costs seconds per surviving mutant.
    exclude: ['packages/core/test/dist-smoke.test.ts', 'packages/core/test/config/merge-scaling.test.ts'],
    setupFiles: ['packages/core/test/mutation/fixed-seed.ts'],
    // Fewer property runs than a plain test run: every mutant is checked against these again.
    env: { CACHEVOL_PROPERTY_RUNS: process.env.CACHEVOL_PROPERTY_RUNS ?? '50' },
    sequence: { sequencer: CheapestFirst },
  },
});
