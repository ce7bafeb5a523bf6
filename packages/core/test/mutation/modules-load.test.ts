import { describe, expect, it } from 'vitest';

/**
 * Every mutated module loads. A mutant that breaks a module while it loads (a schema or a
 * constant built at import) makes every test file importing it fail before it has a test, which
 * the mutation runner would take for a pass; importing the module inside a test makes it a
 * failing test instead.
 */
const MODULES = [
  '../../src/model/billing.js',
  '../../src/model/fallback.js',
  '../../src/model/legacy-state.js',
  '../../src/model/objects.js',
  '../../src/model/policy.js',
  '../../src/model/retention.js',
  '../../src/model/schedule.js',
  '../../src/model/selection.js',
  '../../src/model/state.js',
  '../../src/model/stats.js',
  '../../src/model/transitions.js',
  '../../src/size.js',
  '../../src/names.js',
  '../../src/config/paths.js',
];

describe('the mutated modules', () => {
  it.each(MODULES)('%s loads', async (path) => {
    expect(Object.keys(await import(path)).length).toBeGreaterThan(0);
  });
});
