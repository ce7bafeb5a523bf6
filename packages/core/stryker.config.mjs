// @ts-check
/**
 * Mutation testing of core's pure rules: the model, size math, names and cache paths.
 * Run from the repository root with `npm run test:mutation`; the HTML, JSON and text reports go
 * to `test-results/mutation/`. Equivalent mutants are marked in the sources with
 * `// Stryker disable next-line <mutator>: <why>`.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'packages/core/vitest.mutation.config.ts', related: false },
  mutate: [
    'packages/core/src/model/*.ts',
    'packages/core/src/size.ts',
    'packages/core/src/names.ts',
    'packages/core/src/config/paths.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 5000,
  incremental: process.env.CACHEVOL_MUTATION_INCREMENTAL === '1',
  incrementalFile: 'test-results/mutation/incremental.json',
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  clearTextReporter: { allowColor: false, reportTests: false, reportMutants: true, reportScoreTable: true },
  jsonReporter: { fileName: 'test-results/mutation/mutation.json' },
  htmlReporter: { fileName: 'test-results/mutation/mutation.html' },
  tempDirName: 'node_modules/.stryker-tmp',
  cleanTempDir: 'always',
};
