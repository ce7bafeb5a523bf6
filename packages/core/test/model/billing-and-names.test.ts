import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CacheVolumeError,
  CommandFailedError,
  DAY_MS,
  estimateBill,
  formatSize,
  GIB,
  isCacheVolumeError,
  validateId,
  validateName,
} from '../../src/index.js';
import { arbId, arbVolumeName, HOSTILE_IDS, propertyParameters } from '../../src/testing/index.js';

const params = propertyParameters(200);

describe('billing estimate', () => {
  const prices = { perBuild: 0.5, perActiveGb: 0.01 };
  const now = 1_700_000_000_000;

  it('charges once per build that defines a cache, however many times', () => {
    const bill = estimateBill({
      builds: [
        { buildId: 'b1', cacheDefinitions: 3 },
        { buildId: 'b1', cacheDefinitions: 1 },
        { buildId: 'b2', cacheDefinitions: 0 },
        { buildId: 'b3', cacheDefinitions: 1 },
      ],
      volumes: [],
      now,
      prices,
    });
    expect(bill.billableBuilds).toBe(2);
    expect(bill.buildCost).toBe(1);
  });

  it('charges per GB only for volumes used in the last 24 hours', () => {
    const bill = estimateBill({
      builds: [],
      volumes: [
        { usedBytes: 10 * GIB, lastUsedAt: now - 1000 },
        { usedBytes: 5 * GIB, lastUsedAt: now - DAY_MS },
      ],
      now,
      prices,
    });
    expect(bill.activeGb).toBe(10);
    expect(bill.storageCost).toBeCloseTo(0.1);
    expect(bill.total).toBeCloseTo(0.1);
  });

  it('is never negative and refuses negative prices', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ buildId: fc.string(), cacheDefinitions: fc.nat(5) })), (builds) => {
        expect(estimateBill({ builds, volumes: [], now, prices }).total).toBeGreaterThanOrEqual(0);
      }),
      params,
    );
    expect(() =>
      estimateBill({ builds: [], volumes: [], now, prices: { perBuild: -1, perActiveGb: 0 } }),
    ).toThrow(CacheVolumeError);
  });
});

describe('names and ids', () => {
  it('accepts generated valid names and ids unchanged', () => {
    fc.assert(
      fc.property(arbVolumeName, arbId, (name, id) => {
        expect(validateName(name)).toBe(name);
        expect(validateId(id)).toBe(id);
      }),
      params,
    );
  });

  it('accepts the special volume name shape slug/container-cache', () => {
    expect(validateName('my-pipeline/container-cache')).toBe('my-pipeline/container-cache');
  });

  it.each([
    '',
    '.',
    '..',
    '../x',
    'a/../b',
    'a//b',
    '/a',
    'a/',
    'a\u0000b',
    'a b',
    'a;b',
    'a|b',
    '$(x)',
    '`x`',
    'a&b',
    '-a',
    '.hidden',
    'x'.repeat(201),
  ])('refuses the name %j', (name) => {
    expect(() => validateName(name)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it.each(HOSTILE_IDS)('refuses the id %j', (id) => {
    expect(() => validateId(id)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('errors', () => {
  it('carry a code, details and a readable command line', () => {
    const error = new CommandFailedError({
      command: 'zfs',
      args: ['destroy', 'pool/x'],
      exitCode: 1,
      stderr: 'dataset is busy',
    });
    expect(isCacheVolumeError(error, 'BACKEND_FAILED')).toBe(true);
    expect(error.message).toBe('`zfs destroy pool/x` exited with 1: dataset is busy');
    expect(error.details).toMatchObject({ command: 'zfs', exitCode: 1 });
    expect(isCacheVolumeError(new Error('x'))).toBe(false);
  });

  it('formats sizes for people', () => {
    expect(formatSize(20 * GIB)).toBe('20g');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(12)).toBe('12 B');
  });
});
