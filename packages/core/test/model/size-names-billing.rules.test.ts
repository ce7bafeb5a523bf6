import { describe, expect, it } from 'vitest';
import { estimateBill } from '../../src/model/billing.js';
import { DAY_MS } from '../../src/model/policy.js';
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, validateId, validateLabel, validateName } from '../../src/names.js';
import {
  DEFAULT_SIZE_BYTES,
  forkCapacity,
  formatSize,
  GIB,
  MAX_SIZE_GB,
  MIN_SIZE_GB,
  parseSize,
} from '../../src/size.js';
import { thrown } from './fixtures.js';

/** Rules of size math, names, ids and labels, and the billing estimate, one test per rule. */

describe('sizes', () => {
  it('1g is 2^30 bytes; the default and minimum is 20g', () => {
    expect(GIB).toBe(1_073_741_824);
    expect(MIN_SIZE_GB).toBe(20);
    expect(DEFAULT_SIZE_BYTES).toBe(20 * 1_073_741_824);
    expect(parseSize()).toBe(DEFAULT_SIZE_BYTES);
    expect(parseSize(undefined)).toBe(DEFAULT_SIZE_BYTES);
  });

  it('accepts exactly 20g and refuses 19g, saying the bounds', () => {
    expect(parseSize('20g')).toBe(20 * GIB);
    const error = thrown(() => parseSize('19g'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('Invalid size "19g": sizes must be between 20g and 1048576g.');
    expect(error.details).toEqual({ size: '19g' });
  });

  it('the size ceiling is 1 PiB (1048576g): accepted; 1048577g is refused; byte counts stay exact integers', () => {
    expect(MAX_SIZE_GB).toBe(1024 * 1024);
    expect(parseSize('1048576g')).toBe(2 ** 50);
    expect(Number.isSafeInteger(parseSize('1048576g') * 2)).toBe(true);
    expect(thrown(() => parseSize('1048577g')).message).toMatch(/between 20g and 1048576g/);
    expect(thrown(() => parseSize('9999999g')).message).toMatch(/between 20g and 1048576g/);
  });

  it('refuses malformed sizes and non-strings, telling how to write one', () => {
    for (const text of [
      '20',
      '20gb',
      '20G',
      ' 20g',
      '20g ',
      '020g',
      '1.5g',
      '-1g',
      'g',
      '',
      '10000000g',
      'x20g',
    ]) {
      const error = thrown(() => parseSize(text));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(
        `Invalid size ${JSON.stringify(text)}: write whole gigabytes as "Ng", for example "20g" (the default and minimum).`,
      );
      expect(error.details).toEqual({ size: text });
    }
    expect(thrown(() => parseSize(20 as unknown as string)).message).toMatch(/^Invalid size 20: write whole/);
    // Not even a value that reads as a size once turned into a string.
    expect(thrown(() => parseSize(['20g'] as unknown as string)).code).toBe('INVALID_ARGUMENT');
  });

  it('formats whole gigabytes as Ng and anything else in binary units with one decimal', () => {
    expect(formatSize(20 * GIB)).toBe('20g');
    expect(formatSize(GIB)).toBe('1g');
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1023)).toBe('1023 B');
    expect(formatSize(1024)).toBe('1.0 KiB');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(1024 * 1024 * 3)).toBe('3.0 MiB');
    expect(formatSize(GIB + GIB / 2)).toBe('1.5 GiB');
    expect(formatSize(1024 * GIB + 1)).toBe('1.0 TiB');
    expect(formatSize(2 ** 50 + 2 ** 20)).toBe('1024.0 TiB');
  });

  it('fork capacity is the base version used bytes plus the requested bytes; on a miss the requested bytes', () => {
    expect(forkCapacity(100, 7)).toBe(107);
    expect(forkCapacity(100, 0)).toBe(100);
    expect(forkCapacity(100)).toBe(100);
  });
});

describe('names', () => {
  const refused = (value: unknown, what?: string) => {
    const error = thrown(() => (what === undefined ? validateName(value) : validateName(value, what)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    return error;
  };

  it('accepts segments of letters, digits, _, . and - joined by /, unchanged', () => {
    for (const name of ['a', 'A-b_c.d', '_x', '9', 'a/b/c', 'my-pipeline/container-cache', 'a.', 'a..b'])
      expect(validateName(name)).toBe(name);
  });

  it('accepts names of exactly 200 characters and refuses 201', () => {
    expect(MAX_NAME_LENGTH).toBe(200);
    expect(validateName('x'.repeat(200))).toHaveLength(200);
    expect(refused('x'.repeat(201)).message).toBe(
      `Invalid volume name "${'x'.repeat(201)}": it is longer than 200 characters.`,
    );
  });

  it('refuses non-strings and the empty string, naming what was checked', () => {
    expect(refused('').message).toBe('Invalid volume name "": expected a non-empty string.');
    expect(refused(42, 'scope').message).toBe('Invalid scope 42: expected a non-empty string.');
    expect(refused(undefined).message).toBe('Invalid volume name undefined: expected a non-empty string.');
    expect(refused({ a: 1 }).message).toBe(
      'Invalid volume name [object Object]: expected a non-empty string.',
    );
    expect(refused('', 'scope').details).toEqual({ scope: '' });
  });

  it('refuses empty segments (leading, trailing or doubled /)', () => {
    for (const name of ['/a', 'a/', 'a//b'])
      expect(refused(name).message).toBe(
        `Invalid volume name ${JSON.stringify(name)}: it has an empty segment (leading, trailing or doubled "/").`,
      );
  });

  it('refuses . and .. segments', () => {
    for (const name of ['.', '..', 'a/./b', 'a/..'])
      expect(refused(name).message).toMatch(/: "\." and "\.\." segments are not allowed\.$/);
  });

  it('refuses a leading . or -, and any character outside letters, digits, _, . and -', () => {
    for (const name of ['.a', '-a', 'a/-b', 'a b', 'a;b', 'é', 'a\u0000', 'a*', 'a\nb', 'ab\n'])
      expect(refused(name).message).toMatch(
        /: use letters, digits, "_", "\." and "-" \(not first\), and "\/" between segments\.$/,
      );
  });
});

describe('ids', () => {
  const refused = (value: unknown, what?: string) => {
    const error = thrown(() => (what === undefined ? validateId(value) : validateId(value, what)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    return error;
  };

  it('accepts lowercase letters, digits, _ and - starting with a letter or digit, up to 64 characters', () => {
    expect(MAX_ID_LENGTH).toBe(64);
    for (const id of ['a', '0', 'f-1_x', 'x'.repeat(64)]) expect(validateId(id)).toBe(id);
  });

  it('refuses 65 characters, uppercase, a leading _ or -, and anything else', () => {
    for (const id of ['x'.repeat(65), 'A', 'aB', '_a', '-a', '', 'a.b', 'a/b', 'a\n', '\na', 42, null])
      refused(id);
  });

  it('says what the id names and the rule', () => {
    expect(refused('A', 'fork id').message).toBe(
      'Invalid fork id "A": ids are made by cachevol and use only a-z, 0-9, "_" and "-" (at most 64 characters).',
    );
    expect(refused(7).message).toMatch(/^Invalid id 7: /);
    expect(refused('A', 'fork id').details).toEqual({ 'fork id': 'A' });
  });
});

describe('labels', () => {
  const refused = (value: unknown) => {
    const error = thrown(() => validateLabel(value, 'job'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.details).toEqual({ job: value });
    return error;
  };

  it('accepts 1 to 200 printable characters, spaces and non-ASCII included', () => {
    for (const label of ['a', 'build #1 (main)', 'Zoë ✓', 'x'.repeat(200), ' ', '\u0080'])
      expect(validateLabel(label, 'job')).toBe(label);
  });

  it('refuses the empty string, 201 characters, non-strings, and control characters (below 0x20, and 0x7f)', () => {
    expect(refused('').message).toBe('Invalid job "": expected 1 to 200 printable characters.');
    refused('x'.repeat(201));
    refused(5);
    refused(['a']);
    for (const c of ['\u0000', '\u001f', '\t', '\n', '\u007f']) refused(`a${c}b`);
    refused('ab\u001f');
  });
});

describe('billing estimate', () => {
  const prices = { perBuild: 0.5, perActiveGb: 0.25 };
  const now = 1_700_000_000_000;

  it('charges a build once when it defines a cache at least once; a build without one pays nothing', () => {
    const bill = estimateBill({
      builds: [
        { buildId: 'b1', cacheDefinitions: 2 },
        { buildId: 'b1', cacheDefinitions: 1 },
        { buildId: 'b2', cacheDefinitions: 0 },
      ],
      volumes: [],
      now,
      prices,
    });
    expect(bill).toEqual({ billableBuilds: 1, buildCost: 0.5, activeGb: 0, storageCost: 0, total: 0.5 });
  });

  it('counts as active a volume used less than 24 hours ago; exactly 24 hours ago is not active', () => {
    const bill = estimateBill({
      builds: [{ buildId: 'b', cacheDefinitions: 1 }],
      volumes: [
        { usedBytes: 2 * GIB, lastUsedAt: now - DAY_MS + 1 },
        { usedBytes: 2 * GIB, lastUsedAt: now },
        { usedBytes: 8 * GIB, lastUsedAt: now - DAY_MS },
      ],
      now,
      prices,
    });
    expect(bill).toEqual({ billableBuilds: 1, buildCost: 0.5, activeGb: 4, storageCost: 1, total: 1.5 });
  });

  it('refuses negative and non-finite prices, naming the price; zero prices are fine', () => {
    for (const [key, value] of [
      ['perBuild', -1],
      ['perActiveGb', Number.NaN],
      ['perActiveGb', Number.POSITIVE_INFINITY],
    ] as const) {
      const error = thrown(() =>
        estimateBill({ builds: [], volumes: [], now, prices: { ...prices, [key]: value } }),
      );
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toBe(`Price "${key}" must be a finite number >= 0, got ${value}.`);
      expect(error.details).toEqual({ [key]: value });
    }
    expect(
      estimateBill({ builds: [], volumes: [], now, prices: { perBuild: 0, perActiveGb: 0 } }).total,
    ).toBe(0);
  });
});
