import { afterEach, expect, it } from 'vitest';
import { describeWithBtrfs } from './helpers/loop-btrfs.js';

const ci = process.env.CI;
afterEach(() => {
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
});

it('fails a real-btrfs suite under CI=true when it cannot run, saying why', () => {
  process.env.CI = 'true';
  expect(() => describeWithBtrfs('suite', () => {}, 'mkfs.btrfs not found: install btrfs-progs')).toThrow(
    'suite: cannot run under CI=true: mkfs.btrfs not found: install btrfs-progs',
  );
});
