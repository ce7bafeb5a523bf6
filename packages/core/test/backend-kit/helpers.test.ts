import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errnoCode, isDirectory, namesIn, notFound, statOrNull } from '../../src/backend-kit/index.js';
import { CacheVolumeError, CommandFailedError, isCacheVolumeError } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kit-helpers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file helpers', () => {
  it('statOrNull answers null for a missing path and never follows a link', async () => {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(await statOrNull(join(dir, 'missing'))).toBeNull();
    expect((await statOrNull(join(dir, 'link')))?.isSymbolicLink()).toBe(true);
    expect(await isDirectory(join(dir, 'real'))).toBe(true);
    expect(await isDirectory(join(dir, 'link'))).toBe(false);
  });

  it('statOrNull throws what is not a missing path', async () => {
    writeFileSync(join(dir, 'file'), '');
    const error = await statOrNull(join(dir, 'file', 'below')).catch((e: unknown) => e);
    expect(errnoCode(error)).toBe('ENOTDIR');
  });

  it('namesIn lists a directory, and nothing for a missing one', async () => {
    mkdirSync(join(dir, 'list'));
    writeFileSync(join(dir, 'list', 'a'), '');
    expect(await namesIn(join(dir, 'list'))).toEqual(['a']);
    expect(await namesIn(join(dir, 'nowhere'))).toEqual([]);
  });

  it('errnoCode reads system errors and failed commands', () => {
    const failed = new CommandFailedError(
      { command: 'cp', args: [], exitCode: 1, stderr: '' },
      'BACKEND_FAILED',
      {
        details: { errno: 'ENOSPC' },
      },
    );
    expect(errnoCode(failed)).toBe('ENOSPC');
    expect(errnoCode(Object.assign(new Error(), { code: 'EACCES' }))).toBe('EACCES');
    expect(errnoCode(new CacheVolumeError('NOT_FOUND', 'gone'))).toBeUndefined();
    expect(
      errnoCode(new CacheVolumeError('BACKEND_UNAVAILABLE', 'no cp', { details: { errno: 'ENOENT' } })),
    ).toBe('ENOENT');
    expect(errnoCode('text')).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
  });
});

describe('notFound', () => {
  it('throws NOT_FOUND in the common words, with the id under its kind', () => {
    let error: unknown;
    try {
      notFound('dir', 'version', 'v1', { where: '/var/cache', details: { extra: 1 } });
    } catch (e) {
      error = e;
    }
    expect(isCacheVolumeError(error, 'NOT_FOUND')).toBe(true);
    expect((error as Error).message).toBe('The dir backend has no version "v1" under /var/cache.');
    expect((error as { details: unknown }).details).toEqual({ version: 'v1', where: '/var/cache', extra: 1 });
    expect(() => notFound('memory', 'fork', 'f1')).toThrow('The memory backend has no fork "f1".');
  });
});
