import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCacheVolumeError } from '@cachevol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { btrfsBackendOptionsSchema, createBtrfsBackend } from '../src/index.js';

function errorOf(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('createBtrfsBackend options and root checks (no btrfs needed)', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'cachevol-test-btrfs-opts-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('applies defaults', () => {
    expect(btrfsBackendOptionsSchema.parse({ root: '/srv/cache/' })).toEqual({
      root: '/srv/cache',
      quota: true,
      btrfs: 'btrfs',
    });
  });

  it.each([
    [{ root: 'relative/dir' }, /root: must be an absolute path/],
    [{ root: '' }, /root:/],
    [{}, /root:/],
    [{ root: '/srv/cache', quota: 'yes' }, /quota:/],
    [{ root: '/srv/cache', btrfs: '' }, /btrfs:/],
    [{ root: '/srv/cache', qouta: false }, /qouta/],
  ])('refuses %j with INVALID_ARGUMENT naming the option', (options, message) => {
    const error = errorOf(() => createBtrfsBackend(options as never));
    expect(isCacheVolumeError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a missing root and does not create it', async () => {
    const root = join(scratch, 'missing');
    const error = errorOf(() => createBtrfsBackend({ root }));
    expect(isCacheVolumeError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/does not exist/);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('refuses a root that is not on btrfs with BACKEND_UNAVAILABLE and touches nothing', async () => {
    const error = errorOf(() => createBtrfsBackend({ root: scratch }));
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/is not on a btrfs filesystem/);
    expect(await readdir(scratch)).toEqual([]);
  });
});
