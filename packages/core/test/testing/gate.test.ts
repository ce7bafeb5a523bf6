import { afterAll, describe, expect, it } from 'vitest';
import { decideAvailability, describeIfAvailable, itIfAvailable } from '../../src/testing/index.js';

describe('decideAvailability', () => {
  it('runs without a reason, skips with one outside CI, and fails with one under CI=true', () => {
    expect(decideAvailability(undefined, { CI: 'true' })).toEqual({ action: 'run' });
    expect(decideAvailability(() => undefined, {})).toEqual({ action: 'run' });
    expect(decideAvailability('no zfs', {})).toEqual({ action: 'skip', reason: 'no zfs' });
    expect(decideAvailability(() => 'no zfs', { CI: 'false' })).toEqual({ action: 'skip', reason: 'no zfs' });
    expect(decideAvailability('no zfs', { CI: 'true' })).toEqual({ action: 'fail', reason: 'no zfs' });
  });
});

itIfAvailable(
  'needs a tool this machine lacks',
  'a test whose gate says no, outside CI',
  () => {
    throw new Error('the gate ran a test it should have skipped');
  },
  { env: {} },
);

let ran = 0;

describeIfAvailable(
  'needs a tool this machine lacks',
  'a suite whose gate says no, outside CI',
  () => {
    it('never runs', () => {
      throw new Error('the gate ran a suite it should have skipped');
    });
  },
  { env: {} },
);

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
