import { isCacheVolumeError } from '@cachevol/core';
import { HOSTILE_IDS } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { btrfsBackendOn } from '../src/internal/backend.js';
import type { Host } from '../src/internal/host.js';
import { parseBtrfsBackendOptions } from '../src/options.js';

/** A host that records every step and runs none: nothing may reach it in these tests. */
function recordingHost(): Host & { steps: string[] } {
  const steps: string[] = [];
  const step = async (what: string) => {
    steps.push(what);
    return '';
  };
  return {
    steps,
    btrfs: (args) => step(`btrfs ${args.join(' ')}`),
    btrfsOutput: async function* (args) {
      yield Buffer.from(await step(`btrfs ${args.join(' ')} >`));
    },
    btrfsInput: async (args) => void (await step(`btrfs ${args.join(' ')} <`)),
    mkdir: async (path) => void (await step(`mkdir ${path}`)),
    rename: async (from, to) => void (await step(`rename ${from} ${to}`)),
    removeTree: async (path) => void (await step(`rm ${path}`)),
    writeFile: async (path) => void (await step(`write ${path}`)),
  };
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (isCacheVolumeError(error) ? error.code : String(error)),
  );

describe('btrfs backend: the contract checks of the backend kit', () => {
  it('refuses bad ids and capacities before any btrfs command or file step', async () => {
    const host = recordingHost();
    const backend = btrfsBackendOn(parseBtrfsBackendOptions({ root: '/cachevol-kit-unused' }), host);
    const fork = { capacityBytes: 1 << 20 };
    for (const bad of HOSTILE_IDS) {
      expect(await code(backend.createFork(bad, fork))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.forkVersion('f1', bad, fork))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.commitFork(bad, 'v1'))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.discardFork(bad))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.removeVersion(bad))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.usage('fork', bad))).toBe('INVALID_ARGUMENT');
    }
    for (const capacityBytes of [0, -1, 0.5, Number.NaN]) {
      expect(await code(backend.createFork('f1', { capacityBytes }))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.forkVersion('f1', 'v1', { capacityBytes }))).toBe('INVALID_ARGUMENT');
    }
    expect(host.steps).toEqual([]);
  });
});
