import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import type { BtrfsBackend } from '../src/index.js';
import { btrfsBackendOn } from '../src/internal/backend.js';
import { type Host, nodeHost } from '../src/internal/host.js';
import { parseBtrfsBackendOptions } from '../src/options.js';
import {
  createLoopBtrfs,
  btrfsFileAccess as files,
  type LoopBtrfs,
  leftovers,
  removeAll,
  run,
} from './helpers/loop-btrfs.js';

const fork = { capacityBytes: 64 << 20 };
let fs: LoopBtrfs;

class Crash extends Error {
  constructor(step: number) {
    super(`simulated crash before step ${step}`);
  }
}

/**
 * A host that counts state-changing steps and, once armed, "dies" before step `at`: that step
 * and every later one throw, as if the process were gone (also steps that run after the
 * operation returned, such as a commit's delete of the fork: `crashed` tells).
 */
function crashingHost(real: Host): Host & { arm(at: number): void; steps: number; crashed: boolean } {
  let at = Number.POSITIVE_INFINITY;
  const state = { steps: 0, crashed: false };
  const step = <T>(work: () => Promise<T>): Promise<T> => {
    if (state.steps >= at) {
      state.crashed = true;
      return Promise.reject(new Crash(state.steps));
    }
    state.steps += 1;
    return work();
  };
  return {
    btrfs: (args) => step(() => real.btrfs(args)),
    btrfsOutput: (args) => real.btrfsOutput(args), // a read: never a crash point
    btrfsInput: (args, input) => step(() => real.btrfsInput(args, input)),
    mkdir: (path) => step(() => real.mkdir(path)),
    rename: (from, to) => step(() => real.rename(from, to)),
    removeTree: (path) => step(() => real.removeTree(path)),
    writeFile: (path, text) => step(() => real.writeFile(path, text)),
    arm(n) {
      state.steps = 0;
      state.crashed = false;
      at = n;
    },
    get steps() {
      return state.steps;
    },
    get crashed() {
      return state.crashed;
    },
  };
}

interface Scenario {
  name: string;
  /** The backend's `quota` option (default `true`). */
  quota?: boolean;
  /** Builds the starting state. */
  setup(b: BtrfsBackend): Promise<void>;
  /** The operation that crashes. */
  act(b: BtrfsBackend): Promise<unknown>;
  /** Checks the state after the operation completed. */
  check(b: BtrfsBackend): Promise<void>;
}

const listed = async (b: BtrfsBackend) => (await b.list()).map((e) => `${e.kind}:${e.id}`).sort();

async function withNested(b: BtrfsBackend, forkId: string, depth: number): Promise<void> {
  const { mountPath } = await b.createFork(forkId, fork);
  await files.write(mountPath, 'top.txt', forkId);
  let path = mountPath;
  for (let level = 0; level < depth; level++) {
    path = join(path, `nested-${level}`);
    await run('btrfs', ['subvolume', 'create', path]);
  }
}

async function withVersion(b: BtrfsBackend): Promise<void> {
  const { mountPath } = await b.createFork('f0', fork);
  await files.write(mountPath, 'base.txt', 'base');
  await b.commitFork('f0', 'v1');
  await b.list(); // waits for the fork's delete, which runs after the commit returned
}

async function withVersionOf(b: BtrfsBackend, bytes: number): Promise<void> {
  const { mountPath } = await b.createFork('f0', fork);
  await files.fill(mountPath, 'data.bin', bytes);
  await b.commitFork('f0', 'v1');
  await b.list(); // waits for the fork's delete, which runs after the commit returned
}

const scenarios: Scenario[] = [
  {
    name: 'createFork',
    setup: async () => {},
    act: (b) => b.createFork('f1', fork),
    check: async (b) => {
      expect(await listed(b)).toEqual(['fork:f1']);
      expect(await files.list((await b.createFork('f1', fork)).mountPath)).toEqual([]);
    },
  },
  {
    name: 'forkVersion',
    setup: withVersion,
    act: (b) => b.forkVersion('f1', 'v1', fork),
    check: async (b) => {
      expect(await listed(b)).toEqual(['fork:f1', 'version:v1']);
      expect(await files.read((await b.forkVersion('f1', 'v1', fork)).mountPath, 'base.txt')).toBe('base');
    },
  },
  {
    name: 'commitFork (fork with a nested subvolume)',
    setup: (b) => withNested(b, 'f1', 1),
    act: (b) => b.commitFork('f1', 'v1'),
    check: async (b) => {
      expect(await listed(b)).toEqual(['version:v1']);
      expect(await fs.subvolumesUnder(b.root)).toEqual(['versions/v1']);
      const next = await b.forkVersion('f2', 'v1', fork);
      expect(await files.list(next.mountPath)).toEqual(['top.txt']);
    },
  },
  {
    name: 'commitFork, then forkVersion of that version in the same process (inherited limit)',
    setup: async () => {},
    act: async (b) => {
      if (!existsSync(join(b.root, 'versions', 'v1'))) {
        const { mountPath } = await b.createFork('f0', fork);
        await files.write(mountPath, 'base.txt', 'base');
      }
      const { usedBytes } = await b.commitFork('f0', 'v1'); // or its retry
      await b.list(); // the version's limit for the next fork is set after the commit returned
      return b.forkVersion('f1', 'v1', { capacityBytes: usedBytes + fork.capacityBytes });
    },
    check: async (b) => {
      expect(await listed(b)).toEqual(['fork:f1', 'version:v1']);
      expect(await files.read((await b.forkVersion('f1', 'v1', fork)).mountPath, 'base.txt')).toBe('base');
    },
  },
  {
    name: 'usage of a version without quota (measures and caches its size)',
    quota: false,
    setup: (b) => withVersionOf(b, 1 << 20),
    act: (b) => b.usage('version', 'v1'),
    check: async (b) => {
      expect(await listed(b)).toEqual(['version:v1']);
      expect((await b.usage('version', 'v1')).usedBytes).toBe(1 << 20);
    },
  },
  {
    name: 'removeVersion without quota (with a cached size)',
    quota: false,
    setup: async (b) => {
      await withVersionOf(b, 1 << 20);
      await b.usage('version', 'v1');
    },
    act: (b) => b.removeVersion('v1'),
    check: async (b) => {
      expect(await listed(b)).toEqual([]);
    },
  },
  {
    name: 'discardFork (fork with nested subvolumes)',
    setup: (b) => withNested(b, 'f1', 2),
    act: (b) => b.discardFork('f1'),
    check: async (b) => {
      expect(await listed(b)).toEqual([]);
    },
  },
  {
    name: 'removeVersion (with a live descendant)',
    setup: async (b) => {
      await withVersion(b);
      await b.forkVersion('f1', 'v1', fork);
    },
    act: (b) => b.removeVersion('v1'),
    check: async (b) => {
      expect(await listed(b)).toEqual(['fork:f1']);
      expect(await files.read((await b.forkVersion('f1', 'v1', fork)).mountPath, 'base.txt')).toBe('base');
    },
  },
];

async function expectNothingLeft(b: BtrfsBackend): Promise<void> {
  expect(await b.list()).toEqual([]);
  expect(await leftovers(b.root)).toEqual([]);
  expect(await fs.subvolumesUnder(b.root)).toEqual([]);
}

/** Sets a scenario up on a fresh root and runs its operation with a crash before step `at`. */
async function crashAt(
  scenario: Scenario,
  at: number,
): Promise<{ backendOn(host: Host): BtrfsBackend; completed: boolean; steps: number }> {
  const root = await fs.freshRoot();
  const backendOn = (host: Host) =>
    btrfsBackendOn(parseBtrfsBackendOptions({ root, quota: scenario.quota ?? true }), host);
  await scenario.setup(backendOn(nodeHost('btrfs')));
  const host = crashingHost(nodeHost('btrfs'));
  const b = backendOn(host);
  await b.ready();
  host.arm(at);
  const outcome = await scenario.act(b).then(
    () => 'completed' as const,
    (error: unknown) => {
      if (!(error instanceof Crash)) throw error;
      return 'crashed' as const;
    },
  );
  await b.list(); // waits for what the operation left running (a commit's delete)
  return { backendOn, completed: outcome === 'completed' && !host.crashed, steps: host.steps };
}

describeWith('btrfs', 'btrfs backend: a crash between any two steps is repaired', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
  });

  for (const scenario of scenarios) {
    describe(scenario.name, () => {
      it('is repaired by a retry, and by list() plus discard/remove, after a crash before each step', {
        timeout: PROPERTY_RUN_TIMEOUT_MS,
      }, async () => {
        const full = await crashAt(scenario, Number.POSITIVE_INFINITY);
        expect(full.completed).toBe(true);
        expect(full.steps).toBeGreaterThan(0);
        for (let at = 0; at < full.steps; at++) {
          const crashed = await crashAt(scenario, at);
          expect(
            crashed.completed,
            `a crash before step ${at} of ${full.steps} should stop the operation`,
          ).toBe(false);
          // A retry by a fresh process ends in the state the operation promises.
          const retried = crashed.backendOn(nodeHost('btrfs'));
          await scenario.act(retried);
          await scenario.check(retried);
          await removeAll(retried);
          await expectNothingLeft(retried);
          // Without a retry, removing whatever list() reports leaves nothing behind.
          const again = await crashAt(scenario, at);
          const reconciled = again.backendOn(nodeHost('btrfs'));
          await removeAll(reconciled);
          await expectNothingLeft(reconciled);
        }
      });
    });
  }
});
