import { describe, expect, it } from 'vitest';
import { syncFilesystem, syncFilesystemCommand } from '../src/internal/sync-filesystem.js';
import { tempDir } from './helpers.js';

describe('syncFilesystemCommand', () => {
  it('builds `sync -f -- <path>`', () => {
    expect(syncFilesystemCommand('/var/lib/cachevol/forks/f-1')).toEqual({
      command: 'sync',
      args: ['-f', '--', '/var/lib/cachevol/forks/f-1'],
    });
  });

  it('passes a path that looks like an option as a path', () => {
    expect(syncFilesystemCommand('-rf').args).toEqual(['-f', '--', '-rf']);
  });

  it.runIf(process.platform === 'linux')('flushes a real directory', async () => {
    expect(await syncFilesystem(tempDir())).toBe('synced');
  });

  it.runIf(process.platform === 'linux')(
    'reports a failure, not an error, for a path that does not exist',
    async () => {
      expect(await syncFilesystem('/nonexistent/cachevol/path')).toBe('failed');
    },
  );
});
