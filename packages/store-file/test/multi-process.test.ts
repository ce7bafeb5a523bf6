import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileStore } from '../src/index.js';

const PROCESSES = 8;
const UPDATES = 25;

let dir: string;
let bundle: string;

/** Runs one child; resolves with the counter values its updates returned. */
function child(path: string): Promise<number[]> {
  const script = fileURLToPath(new URL('./fixtures/increment.cjs', import.meta.url));
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, bundle, path, String(UPDATES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
    });
    proc.stderr.on('data', (chunk) => {
      err += chunk;
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0) resolve(out.trim().split('\n').map(Number));
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

describe('file store shared by several processes', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cachevol-store-mp-'));
    // Children load the store bundled from the current sources (not a possibly stale dist).
    await build({
      entry: { 'store-file': fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
      outDir: dir,
      format: ['cjs'],
      platform: 'node',
      target: 'node20',
      noExternal: [/.*/],
      config: false,
      dts: false,
      sourcemap: false,
      silent: true,
    });
    bundle = join(dir, 'store-file.cjs');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`loses no update when ${PROCESSES} processes each make ${UPDATES} updates`, async () => {
    const path = join(dir, 'state.json');
    const children = Promise.all(Array.from({ length: PROCESSES }, () => child(path)));
    // Meanwhile, lock-free reads always get a whole document, and the counter never goes back.
    const reader = createFileStore({ path });
    let done = false;
    let reads = 0;
    let last = 0;
    const reading = (async () => {
      while (!done) {
        const value = (await reader.read()).volumes.counter?.seq ?? 0;
        expect(value).toBeGreaterThanOrEqual(last);
        last = value;
        reads++;
      }
    })();
    const seen = await children.finally(() => {
      done = true;
    });
    await reading;
    expect(reads).toBeGreaterThan(10);
    const total = PROCESSES * UPDATES;
    // Every update saw a distinct predecessor: the values are exactly 1..total.
    expect(seen.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect((await createFileStore({ path }).read()).volumes.counter?.seq).toBe(total);
  });
});
