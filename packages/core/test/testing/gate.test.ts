import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decideAvailability, describeIfAvailable } from '../../src/testing/index.js';

describe('decideAvailability', () => {
  it('runs without a reason, skips with one outside CI, and fails with one under CI=true', () => {
    expect(decideAvailability(undefined, { CI: 'true' })).toEqual({ action: 'run' });
    expect(decideAvailability(() => undefined, {})).toEqual({ action: 'run' });
    expect(decideAvailability('no zfs', {})).toEqual({ action: 'skip', reason: 'no zfs' });
    expect(decideAvailability(() => 'no zfs', { CI: 'false' })).toEqual({ action: 'skip', reason: 'no zfs' });
    expect(decideAvailability('no zfs', { CI: 'true' })).toEqual({ action: 'fail', reason: 'no zfs' });
  });
});

describe('gates that say no, outside CI', () => {
  it('skip their test and their suite, with the reasons, and run neither', () => {
    const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
    const out = join(mkdtempSync(join(tmpdir(), 'cachevol-gate-')), 'report.json');
    const env = { ...process.env };
    delete env.CI;
    const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
    const child = spawnSync(process.execPath, [vitest, 'run', '--reporter=json', `--outputFile=${out}`], {
      cwd: fixtures,
      env,
      encoding: 'utf8',
    });
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      numPendingTests: number;
      numFailedTests: number;
      testResults: {
        assertionResults: { title: string; status: string; meta?: { skipReason?: string } }[];
      }[];
    };
    rmSync(dirname(out), { recursive: true, force: true });
    expect(report.numFailedTests).toBe(0);
    const results = report.testResults.flatMap((file) => file.assertionResults);
    expect(results.map((r) => [r.title, r.status, r.meta?.skipReason])).toEqual([
      ['a test whose gate says no', 'skipped', 'needs a tool this machine lacks'],
      ['never runs', 'skipped', 'needs another tool'],
    ]);
  });
});

let ran = 0;

describeIfAvailable(
  () => undefined,
  'a suite whose gate says yes',
  () => {
    it('runs', () => {
      ran += 1;
    });
  },
  { env: { CI: 'true' } },
);

afterAll(() => {
  expect(ran).toBe(1);
});
