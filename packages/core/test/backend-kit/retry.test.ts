import { describe, expect, it } from 'vitest';
import { isBusyError, retryWhileBusy } from '../../src/backend-kit/index.js';
import { CacheVolumeError, CommandFailedError } from '../../src/index.js';

const busy = () =>
  new CommandFailedError({
    command: 'zfs',
    args: ['destroy', 'p/a'],
    exitCode: 1,
    stderr: 'dataset is busy',
  });

describe('retryWhileBusy', () => {
  it('retries while busy, pausing as told, and returns the first success', async () => {
    const pauses: number[] = [];
    let attempts = 0;
    const result = await retryWhileBusy(
      async (attempt) => {
        expect(attempt).toBe(attempts);
        attempts += 1;
        if (attempts < 3) throw busy();
        return 'done';
      },
      { delaysMs: [5, 7, 9], pause: async (ms) => pauses.push(ms) },
    );
    expect(result).toBe('done');
    expect(pauses).toEqual([5, 7]);
  });

  it('throws the last busy error when the pauses run out', async () => {
    let attempts = 0;
    const last = busy();
    const error = await retryWhileBusy(
      async () => {
        attempts += 1;
        throw attempts === 3 ? last : busy();
      },
      { delaysMs: [1, 1], pause: async () => undefined },
    ).catch((e: unknown) => e);
    expect(error).toBe(last);
    expect(attempts).toBe(3);
  });

  it('throws an error that is not busy at once', async () => {
    let attempts = 0;
    const other = new CacheVolumeError('NOT_FOUND', 'gone');
    const error = await retryWhileBusy(
      async () => {
        attempts += 1;
        throw other;
      },
      { pause: async () => undefined },
    ).catch((e: unknown) => e);
    expect(error).toBe(other);
    expect(attempts).toBe(1);
  });
});

describe('isBusyError', () => {
  it('knows EBUSY and a command that says busy, and nothing else', () => {
    expect(isBusyError(busy())).toBe(true);
    expect(isBusyError(Object.assign(new Error('x'), { code: 'EBUSY' }))).toBe(true);
    expect(
      isBusyError(new CommandFailedError({ command: 'x', args: [], exitCode: 1, stderr: 'no such dataset' })),
    ).toBe(false);
    expect(isBusyError(new Error('busy'))).toBe(false);
  });
});
