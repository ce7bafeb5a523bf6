import { isCacheVolumeError } from '@cachevol/core';
import { HOSTILE_IDS } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { createZfsBackendWith } from '../src/internal/operations.js';
import type { ZfsRunner } from '../src/internal/runner.js';
import { parseZfsBackendOptions } from '../src/options.js';

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (isCacheVolumeError(error) ? error.code : String(error)),
  );

describe('zfs backend: the contract checks of the backend kit', () => {
  it('refuses bad ids and capacities before any zfs command', async () => {
    const commands: string[] = [];
    const runner: ZfsRunner = {
      async run(args) {
        commands.push(args.join(' '));
        return '';
      },
    };
    const backend = createZfsBackendWith(parseZfsBackendOptions({ dataset: 'kitpool/cachevol' }), runner);
    const fork = { capacityBytes: 1 << 20 };
    for (const bad of HOSTILE_IDS) {
      expect(await code(backend.createFork(bad, fork))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.forkVersion('f1', bad, fork))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.commitFork('f1', bad))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.discardFork(bad))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.removeVersion(bad))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.usage('version', bad))).toBe('INVALID_ARGUMENT');
    }
    for (const capacityBytes of [0, -1, 0.5, Number.NaN]) {
      expect(await code(backend.createFork('f1', { capacityBytes }))).toBe('INVALID_ARGUMENT');
      expect(await code(backend.forkVersion('f1', 'v1', { capacityBytes }))).toBe('INVALID_ARGUMENT');
    }
    expect(commands).toEqual([]);
  });
});
