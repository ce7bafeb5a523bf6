import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { propertyParameters } from '../../src/testing/index.js';

it('prints and keeps the seed of a failing property, and replays it', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'cachevol-seeds-')), 'seeds.jsonl');
  const failing = fc.property(fc.nat(1000), (n) => n < 500);
  expect(() => fc.assert(failing, propertyParameters(100, { CACHEVOL_SEED_LOG: log }))).toThrow(
    /seed: -?\d+, path: "[\d:]+"/,
  );
  const kept = JSON.parse(readFileSync(log, 'utf8').trim().split('\n')[0] as string);
  expect(kept.replay).toMatch(/^CACHEVOL_SEED=-?\d+ CACHEVOL_PATH=[\d:]+$/);
  const replay = propertyParameters(100, {
    CACHEVOL_SEED: String(kept.seed),
    CACHEVOL_PATH: kept.path,
    CACHEVOL_SEED_LOG: log,
  });
  expect(() => fc.assert(failing, replay)).toThrow(new RegExp(`seed: ${kept.seed}`));
});
