import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { estimateBytes } from '../src/internal/estimate.js';

let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('estimateBytes', () => {
  it('is 0 for an empty tree, positive for one holding only directories, and a lower bound', async () => {
    dir = await mkdtemp(join(tmpdir(), 'btrfshot-estimate-'));
    expect(await estimateBytes(dir)).toBe(0);
    await mkdir(join(dir, 'node_modules', 'a'), { recursive: true });
    expect(await estimateBytes(dir)).toBeGreaterThan(0);
    for (let i = 0; i < 40; i++)
      await writeFile(join(dir, 'node_modules', 'a', `f${i}`), Buffer.alloc(64 * 1024, 1));
    const all = await estimateBytes(dir);
    expect(all).toBeGreaterThanOrEqual(40 * 64 * 1024);
    // Capped: a few entries count less than all of them, but still something.
    const capped = await estimateBytes(dir, 5);
    expect(capped).toBeGreaterThan(0);
    expect(capped).toBeLessThan(all);
  });
});
