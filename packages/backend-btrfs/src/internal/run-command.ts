import { CacheVolumeError, CommandFailedError } from '@cachevol/core';
import { execa } from 'execa';

/**
 * Runs a program with an argument array (never through a shell) and returns its standard
 * output. Output is requested in the C locale so that it can be parsed.
 *
 * @param command - the program, e.g. `btrfs`
 * @param args - its arguments
 * @throws {@link CacheVolumeError} `BACKEND_UNAVAILABLE` when the program is not installed
 * @throws {@link CommandFailedError} when it exits non-zero or is killed
 */
export async function runCommand(command: string, args: readonly string[]): Promise<string> {
  const result = await execa(command, args, { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
  if (!result.failed) return result.stdout;
  if (result.code === 'ENOENT') {
    throw new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `\`${command}\` was not found: install btrfs-progs (e.g. \`apt-get install btrfs-progs\`) or set the \`btrfs\` option to its path.`,
      {
        details: { command },
      },
    );
  }
  throw new CommandFailedError({
    command,
    args: [...args],
    exitCode: result.exitCode ?? null,
    stderr: result.stderr.trim(),
  });
}
