import { CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../src/internal/run-command.js';

describe('runCommand', () => {
  it('returns stdout of a successful command', async () => {
    expect(await runCommand(process.execPath, ['-e', 'process.stdout.write("ok")'])).toBe('ok');
  });

  it('passes arguments without a shell', async () => {
    const out = await runCommand(process.execPath, [
      '-e',
      'process.stdout.write(process.argv[1])',
      '$(echo x); rm -rf /nope',
    ]);
    expect(out).toBe('$(echo x); rm -rf /nope');
  });

  it('turns a failure into CommandFailedError with command, args, exit code and stderr', async () => {
    const args = ['-e', 'process.stderr.write("boom\\n"); process.exit(3)'];
    const error = await runCommand(process.execPath, args).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error).toMatchObject({
      code: 'BACKEND_FAILED',
      command: process.execPath,
      args,
      exitCode: 3,
      stderr: 'boom',
    });
  });

  it('says to install btrfs-progs when the program is missing', async () => {
    const error = await runCommand('/nonexistent/btrfs', ['--version']).catch((e: unknown) => e);
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/install btrfs-progs/);
  });
});
