import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CacheVolumeError, isCacheVolumeError } from '@cachevol/core';
import { afterEach } from 'vitest';

/** Busy timeout of the tests' own stores and workers: short, so stalls fail fast. */
export const TEST_BUSY_TIMEOUT_MS = 300;

/**
 * Busy timeout of worker processes whose every write must succeed while others write too: a
 * deadline for a lock that is never released, far above how long another process holds the
 * database on a loaded machine (where a process holding it may wait a while to be scheduled).
 */
export const PATIENT_BUSY_TIMEOUT_MS = 60_000;

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A temporary directory per test, removed after it: call at the top of a test file. */
export function tempDirPerTest(): () => string {
  let current: { dir: string; remove: () => void } | undefined;
  afterEach(() => {
    current?.remove();
    current = undefined;
  });
  return () => {
    current ??= tempDir();
    return current.dir;
  };
}

/** The `CacheVolumeError` a call failed with (fails the test when it did not fail so). */
export async function failure(run: () => unknown): Promise<CacheVolumeError> {
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  if (!isCacheVolumeError(error)) throw new Error(`expected a CacheVolumeError, got ${String(error)}`);
  return error;
}
