import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Busy timeout of the tests' own stores and workers: short, so stalls fail fast. */
export const TEST_BUSY_TIMEOUT_MS = 300;

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
