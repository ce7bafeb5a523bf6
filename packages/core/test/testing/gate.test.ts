import { afterAll, expect, it } from 'vitest';
import { describeIfAvailable } from '../../src/testing/index.js';

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
