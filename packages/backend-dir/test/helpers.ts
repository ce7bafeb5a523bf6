import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CacheVolumeError, isCacheVolumeError } from '@cachevol/core';
import { afterEach } from 'vitest';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh temporary directory, removed after the current test.
 *
 * @param parent - where to make it
 */
export function tempDir(parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'cachevol-test-dir-'));
  made.push(dir);
  return dir;
}

/** The CacheVolumeError a promise rejects with (fails the test otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<CacheVolumeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCacheVolumeError(error)) throw new Error(`expected a CacheVolumeError, got ${String(error)}`);
  return error;
}

/** The CacheVolumeError a function throws (fails the test otherwise). */
export function thrown(fn: () => unknown): CacheVolumeError {
  try {
    fn();
  } catch (error) {
    if (isCacheVolumeError(error)) return error;
    throw new Error(`expected a CacheVolumeError, got ${String(error)}`);
  }
  throw new Error('expected a CacheVolumeError, nothing was thrown');
}
