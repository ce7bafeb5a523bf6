import { CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../src/internal/host.js';

/** The real host, running this Node.js in place of `btrfs`. */
const host = nodeHost(process.execPath);

describe('the host runs btrfs through the backend kit', () => {
  it('returns stdout of a successful command, without the final newline', async () => {
    expect(await host.btrfs(['-e', 'process.stdout.write("ok\\n")'])).toBe('ok');
    expect(await host.btrfs(['-e', 'process.stdout.write("a\\n\\n")'])).toBe('a\n');
  });

  it('passes arguments without a shell', async () => {
    const out = await host.btrfs(['-e', 'process.stdout.write(process.argv[1])', '$(echo x); rm -rf /nope']);
    expect(out).toBe('$(echo x); rm -rf /nope');
  });

  it('turns a failure into CommandFailedError with command, args, exit code and stderr', async () => {
    const args = ['-e', 'process.stderr.write("boom\\n"); process.exit(3)'];
    const error = await host.btrfs(args).catch((e: unknown) => e);
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
    const error = await nodeHost('/nonexistent/btrfs')
      .btrfs(['--version'])
      .catch((e: unknown) => e);
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/install btrfs-progs/);
  });
});
