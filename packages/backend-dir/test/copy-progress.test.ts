import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { describe, expect, it } from 'vitest';
import { estimateDone, treeTotals } from '../src/internal/copy-progress.js';
import { copyTree } from '../src/internal/copy-tree.js';
import { tempDir } from './helpers.js';

const MIB = 1 << 20;

describe('estimateDone', () => {
  const totals = { bytes: 1000, allocatedBytes: 4000 };
  it('scales the space taken so far to the bytes to copy', () => {
    expect(estimateDone(totals, 0, 0)).toBe(0);
    expect(estimateDone(totals, 1000, 0)).toBe(250);
    expect(estimateDone(totals, 2000, 100)).toBe(500);
  });
  it('stays below the total while copying, and never goes back', () => {
    expect(estimateDone(totals, 4000, 0)).toBe(990);
    expect(estimateDone(totals, 9000, 0)).toBe(990);
    expect(estimateDone(totals, 1000, 600)).toBe(600);
    expect(estimateDone(totals, -5000, 600)).toBe(600);
    expect(estimateDone({ bytes: 0, allocatedBytes: 0 }, 100, 0)).toBe(0);
  });
});

describe('copyTree progress', () => {
  async function source(): Promise<string> {
    const dir = join(tempDir(), 'src');
    await mkdir(join(dir, 'sub'), { recursive: true });
    for (let i = 0; i < 24; i++) await writeFile(join(dir, 'sub', `f${i}`), noise(2 * MIB, i));
    return dir;
  }

  it('counts the tree as usage does', async () => {
    const dir = await source();
    const totals = await treeTotals(dir);
    expect(totals.bytes).toBe(48 * MIB);
    expect(totals.allocatedBytes).toBeGreaterThanOrEqual(48 * MIB);
  });

  it('reports estimates while cp runs, then the total', async () => {
    const from = await source();
    const seen: Progress[] = [];
    await copyTree(from, join(tempDir(), 'copy'), {
      clone: 'copy',
      progressIntervalMs: 2,
      onProgress: (p) => seen.push(p),
    });
    const total = 48 * MIB;
    expect(seen[0]).toEqual({ doneBytes: 0, totalBytes: null });
    expect(seen.at(-1)).toEqual({ doneBytes: total, totalBytes: total });
    const between = seen.slice(1, -1);
    expect(between.length, JSON.stringify(seen)).toBeGreaterThan(0);
    for (const p of between) expect(p.totalBytes).toBe(total);
    expect(
      between.some((p) => p.doneBytes > 0 && p.doneBytes < total),
      JSON.stringify(seen),
    ).toBe(true);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i]?.doneBytes).toBeGreaterThanOrEqual(seen[i - 1]?.doneBytes ?? 0);
  });

  it('stops cp when the callback throws, and rejects with its error', async () => {
    const from = await source();
    let calls = 0;
    const started = Date.now();
    const to = join(tempDir(), 'copy');
    const failing = copyTree(from, to, {
      clone: 'copy',
      progressIntervalMs: 2,
      onProgress: (p) => {
        if (p.totalBytes !== null && ++calls === 1) throw new Error('injected failure');
      },
    });
    await expect(failing).rejects.toThrow('injected failure');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await treeTotals(to)).bytes, 'cp was stopped before it finished').toBeLessThan(48 * MIB);
  });

  it('rejects before starting cp when the first report throws', async () => {
    const from = await source();
    const to = join(tempDir(), 'copy');
    await expect(
      copyTree(from, to, {
        clone: 'copy',
        onProgress: () => {
          throw new Error('not now');
        },
      }),
    ).rejects.toThrow('not now');
    expect(existsSync(to)).toBe(false);
  });
});
