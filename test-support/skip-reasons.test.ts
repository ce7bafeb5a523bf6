import { describe, expect, it } from 'vitest';
import type { TestModule } from 'vitest/node';
import { skipLines } from './skip-reasons.js';

type Fake = {
  type: 'suite' | 'test';
  fullName: string;
  reason?: string;
  skipped: boolean;
  children?: Fake[];
};

/** Just what `skipLines` reads of vitest's reported tasks. */
function reported(node: Fake): unknown {
  const meta = () => (node.reason === undefined ? {} : { skipReason: node.reason });
  const children = (node.children ?? []).map(reported);
  return node.type === 'suite'
    ? {
        type: 'suite',
        fullName: node.fullName,
        meta,
        state: () => (node.skipped ? 'skipped' : 'passed'),
        children,
      }
    : {
        type: 'test',
        fullName: node.fullName,
        meta,
        result: () => ({ state: node.skipped ? 'skipped' : 'passed' }),
      };
}

function module(relativeModuleId: string, children: Fake[]): TestModule {
  return { relativeModuleId, children: children.map(reported) } as unknown as TestModule;
}

describe('the skip-reasons reporter', () => {
  it('gives one line per suite or test a gate skipped, outermost only, with file and reason', () => {
    const zfs = module('packages/backend-zfs/test/conformance.test.ts', [
      {
        type: 'suite',
        fullName: 'zfs backend on a real pool',
        reason: 'ZFS is not running',
        skipped: true,
        // the suite's meta is inherited by what it holds: still one line
        children: [
          {
            type: 'suite',
            fullName: 'zfs backend on a real pool > inner',
            reason: 'ZFS is not running',
            skipped: true,
          },
          {
            type: 'test',
            fullName: 'zfs backend on a real pool > t',
            reason: 'ZFS is not running',
            skipped: true,
          },
        ],
      },
    ]);
    const dir = module('packages/backend-dir/test/dir-backend.test.ts', [
      {
        type: 'suite',
        fullName: 'failures',
        skipped: false,
        children: [
          { type: 'test', fullName: 'failures > runs', skipped: false },
          { type: 'test', fullName: 'failures > needs root', reason: 'needs root', skipped: true },
          { type: 'test', fullName: 'failures > skipped by -t', skipped: true },
        ],
      },
    ]);
    expect(skipLines([zfs, dir])).toEqual([
      {
        where: 'packages/backend-zfs/test/conformance.test.ts > zfs backend on a real pool',
        reason: 'ZFS is not running',
      },
      {
        where: 'packages/backend-dir/test/dir-backend.test.ts > failures > needs root',
        reason: 'needs root',
      },
    ]);
  });

  it('says nothing of a gated suite that ran', () => {
    const ran = module('a.test.ts', [{ type: 'suite', fullName: 's', skipped: false, children: [] }]);
    expect(skipLines([ran])).toEqual([]);
  });
});
