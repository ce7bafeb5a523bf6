import type { Backend } from '@cachevol/core';
import { nodeFileAccess } from '@cachevol/core/testing';
import { expect, it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackend } from '../src/index.js';
import { createZfsBackendWith } from '../src/internal/operations.js';
import { processRunner, type ZfsRunner } from '../src/internal/runner.js';
import { parseZfsBackendOptions } from '../src/options.js';
import { type TestPool, useTestPool } from './zfs-pool.js';

const fork = { capacityBytes: 64 * 1024 * 1024 };

class Crash extends Error {}

/**
 * Runs real `zfs` commands, but "dies" before the state-changing command number `steps`
 * (0-based): that command and every later one throw, as if the process had been killed
 * between two steps. Reads (`zfs get`) go through until then.
 */
function crashingRunner(steps: number): ZfsRunner & { crashed: boolean } {
  const real = processRunner('zfs');
  let left = steps;
  const runner = {
    crashed: false,
    async run(args: readonly string[]) {
      if (runner.crashed) throw new Crash('the process is gone');
      if (args[0] !== 'get') {
        if (left === 0) {
          runner.crashed = true;
          throw new Crash(`crash before: zfs ${args.join(' ')}`);
        }
        left -= 1;
      }
      return real.run(args);
    },
  };
  return runner;
}

interface Scenario {
  /** Brings a fresh backend to the state the operation starts from. */
  setup(backend: Backend): Promise<void>;
  /** The operation that may crash part-way. */
  act(backend: Backend): Promise<unknown>;
  /** What must hold after the operation completed (by a retry after the crash). */
  check(backend: Backend): Promise<void>;
}

const SCENARIOS: Record<string, Scenario> = {
  createFork: {
    async setup() {},
    act: (backend) => backend.createFork('f1', fork),
    async check(backend) {
      const { mountPath } = await backend.createFork('f1', fork);
      expect(await nodeFileAccess.list(mountPath)).toEqual([]);
      await nodeFileAccess.write(mountPath, 'w.txt', 'w');
      expect(await nodeFileAccess.read(mountPath, 'w.txt')).toBe('w');
      expect((await backend.list()).map((e) => `${e.kind}:${e.id}`)).toEqual(['fork:f1']);
    },
  },
  forkVersion: {
    async setup(backend) {
      const { mountPath } = await backend.createFork('f0', fork);
      await nodeFileAccess.write(mountPath, 'base.txt', 'base');
      await backend.commitFork('f0', 'v0');
    },
    act: (backend) => backend.forkVersion('f1', 'v0', fork),
    async check(backend) {
      const { mountPath } = await backend.forkVersion('f1', 'v0', fork);
      expect(await nodeFileAccess.read(mountPath, 'base.txt')).toBe('base');
      expect((await backend.list()).map((e) => `${e.kind}:${e.id}`)).toEqual(['fork:f1', 'version:v0']);
    },
  },
  commitFork: {
    async setup(backend) {
      const { mountPath } = await backend.createFork('f1', fork);
      await nodeFileAccess.write(mountPath, 'work.txt', 'work');
    },
    act: (backend) => backend.commitFork('f1', 'v1'),
    async check(backend) {
      await backend.commitFork('f1', 'v1');
      expect((await backend.list()).map((e) => `${e.kind}:${e.id}`)).toEqual(['version:v1']);
      const { mountPath } = await backend.forkVersion('f2', 'v1', fork);
      expect(await nodeFileAccess.read(mountPath, 'work.txt')).toBe('work');
    },
  },
  removeVersion: {
    async setup(backend) {
      await backend.createFork('f0', fork);
      await backend.commitFork('f0', 'v0');
      await backend.forkVersion('f1', 'v0', fork);
      await backend.commitFork('f1', 'v1');
    },
    act: (backend) => backend.removeVersion('v0'),
    async check(backend) {
      await backend.removeVersion('v0');
      expect((await backend.list()).map((e) => `${e.kind}:${e.id}`)).toEqual(['version:v1']);
      await backend.removeVersion('v1');
    },
  },
};

/** Removes what the backend lists (as `reconcile()` would) and checks nothing is left. */
async function removeEverything(pool: TestPool, backend: Backend & { dataset: string }): Promise<void> {
  for (const entry of await backend.list()) {
    if (entry.kind === 'fork') await backend.discardFork(entry.id);
    else await backend.removeVersion(entry.id);
  }
  expect(await backend.list()).toEqual([]);
  const root = backend.dataset;
  const left = (await pool.names(root)).filter(
    (name) => ![root, `${root}/forks`, `${root}/versions`].includes(name),
  );
  expect(left, 'datasets leaked after removing everything').toEqual([]);
}

describeWith('zfs', 'zfs backend after a crash between any two steps', () => {
  const pool = useTestPool();

  for (const [operation, scenario] of Object.entries(SCENARIOS)) {
    it(`${operation}: a retry completes it, and removing everything leaves nothing`, {
      timeout: PROPERTY_RUN_TIMEOUT_MS,
    }, async () => {
      let crashes = 0;
      for (let steps = 0; ; steps += 1) {
        const dataset = await pool.newDataset();
        const backend = createZfsBackend({ dataset });
        await scenario.setup(backend);
        const runner = crashingRunner(steps);
        const dying = createZfsBackendWith(parseZfsBackendOptions({ dataset }), runner);
        const outcome = await scenario.act(dying).then(
          () => 'done',
          (error: unknown) => error,
        );
        if (outcome !== 'done') {
          expect(outcome, `unexpected failure with ${steps} steps`).toBeInstanceOf(Crash);
          crashes += 1;
        }
        await scenario.check(backend);
        await removeEverything(pool, backend);
        if (outcome === 'done') break;
      }
      expect(crashes, `${operation} has at least one step`).toBeGreaterThan(0);
    });

    it(`${operation}: discarding or removing after a crash at any step leaves nothing`, {
      timeout: PROPERTY_RUN_TIMEOUT_MS,
    }, async () => {
      for (let steps = 0; ; steps += 1) {
        const dataset = await pool.newDataset();
        const backend = createZfsBackend({ dataset });
        await scenario.setup(backend);
        const runner = crashingRunner(steps);
        const dying = createZfsBackendWith(parseZfsBackendOptions({ dataset }), runner);
        await scenario.act(dying).catch((error: unknown) => {
          if (!(error instanceof Crash)) throw error;
        });
        await removeEverything(pool, backend);
        if (!runner.crashed) break;
      }
    });
  }
});
