import { CacheVolumeError, CommandFailedError, type ErrorCode } from '@cachevol/core';
import { errnoCode } from '@cachevol/core/backend-kit';
import type { CommandResult } from '../command-runner.js';
import type { Command } from './argv.js';

/**
 * What a failed hdiutil, diskutil or cp run means:
 * - `busy`: exit 16 (EBUSY) or "Resource busy" (`hdiutil: couldn't unmount "disk4" - Resource
 *   busy`): something holds the volume; retry after a pause.
 * - `missing`: "No such file or directory" (`hdiutil: attach failed - No such file or
 *   directory`, `hdiutil: detach failed - No such file or directory`): the image or disk is gone.
 * - `no-space`: "No space left on device" (`hdiutil: create failed - No space left on
 *   device`), exit 28 (ENOSPC), or "not enough space".
 * - `other`: anything else.
 */
export type FailureKind = 'busy' | 'missing' | 'no-space' | 'other';

/**
 * Classifies a failed run from its exit code and stderr.
 *
 * @param result - the run
 */
export function failureKind(result: CommandResult): FailureKind {
  const stderr = result.stderr;
  if (result.exitCode === 16 || /resource busy/i.test(stderr)) return 'busy';
  if (result.exitCode === 28 || /no space left on device|not enough (free )?space/i.test(stderr))
    return 'no-space';
  if (/no such file or directory|no such device|could not find disk/i.test(stderr)) return 'missing';
  return 'other';
}

const CODES: Record<FailureKind, ErrorCode> = {
  busy: 'CONFLICT',
  missing: 'NOT_FOUND',
  'no-space': 'CAPACITY_EXCEEDED',
  other: 'BACKEND_FAILED',
};

/**
 * The error for a failed run: a `CommandFailedError` with the command, arguments, exit code and
 * stderr, classed `CONFLICT` (busy), `NOT_FOUND` (no such image), `CAPACITY_EXCEEDED` (no space)
 * or `BACKEND_FAILED`.
 *
 * @param command - what ran
 * @param result - how it ended
 */
export function commandFailed(command: Command, result: CommandResult): CommandFailedError {
  return new CommandFailedError(
    { command: command.command, args: command.args, exitCode: result.exitCode, stderr: result.stderr.trim() },
    CODES[failureKind(result)],
  );
}

/**
 * The error for a command that could not be started at all: `BACKEND_UNAVAILABLE` when the
 * program is missing (saying what provides it), otherwise a `CommandFailedError` with no exit
 * code.
 *
 * @param command - what was to run
 * @param error - what spawning it threw
 */
export function spawnFailed(command: Command, error: unknown): CacheVolumeError {
  // A system error's code, or the errno of the backend kit's BACKEND_UNAVAILABLE start failure.
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'EACCES') {
    return new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `The sparsebundle backend could not run \`${command.command}\` (${String(code)}): it needs macOS, where hdiutil, diskutil, cp and sync ship with the system (/usr/bin/hdiutil, /usr/sbin/diskutil, /bin/cp, /bin/sync). On Linux use the dir, btrfs or zfs backend.`,
      { cause: error, details: { command: command.command } },
    );
  }
  return new CommandFailedError(
    {
      command: command.command,
      args: command.args,
      exitCode: null,
      stderr: String((error as Error)?.message ?? error),
    },
    'BACKEND_FAILED',
    { cause: error },
  );
}
