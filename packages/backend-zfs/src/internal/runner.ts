import { CacheVolumeError, CommandFailedError } from '@cachevol/core';
import { execa } from 'execa';

/** Runs `zfs` with an argument list and returns its standard output. */
export interface ZfsRunner {
  /**
   * @param args - the arguments (never passed through a shell)
   * @returns standard output
   * @throws {@link CommandFailedError} when the command fails; `BACKEND_UNAVAILABLE` when ZFS
   *   is not installed or not running
   */
  run(args: readonly string[]): Promise<string>;
}

/** What a failed `zfs` command's stderr says, as far as cachevol cares. */
export type ZfsFailure =
  | 'missing'
  | 'no-parent'
  | 'exists'
  | 'mounted'
  | 'not-mounted'
  | 'has-clones'
  | 'busy'
  | 'out-of-space'
  | 'unavailable'
  | 'other';

/**
 * Classifies a failed `zfs` command by its standard error (run with `LC_ALL=C`, so messages
 * are in English). The same texts come from OpenZFS and zfs-fuse.
 *
 * @param stderr - what the command wrote to standard error
 */
export function classifyFailure(stderr: string): ZfsFailure {
  if (
    /failed to initialize ZFS library|zfs-fuse daemon is running|modules are not loaded|\/dev\/zfs/i.test(
      stderr,
    )
  ) {
    return 'unavailable';
  }
  if (/dataset does not exist|could not find any snapshots to destroy/i.test(stderr)) return 'missing';
  if (/parent does not exist/i.test(stderr)) return 'no-parent';
  if (/dataset already exists/i.test(stderr)) return 'exists';
  if (/already mounted/i.test(stderr)) return 'mounted';
  if (/not currently mounted|not mounted/i.test(stderr)) return 'not-mounted';
  if (/dependent clones/i.test(stderr)) return 'has-clones';
  if (/out of space|quota exceeded|size is less than current used/i.test(stderr)) return 'out-of-space';
  if (/busy/i.test(stderr)) return 'busy';
  return 'other';
}

/**
 * Tells whether an error is a failed `zfs` command of a given class.
 *
 * @param error - anything caught
 * @param failure - the class to match
 */
export function isZfsFailure(error: unknown, failure: ZfsFailure): error is CommandFailedError {
  return error instanceof CommandFailedError && classifyFailure(error.stderr) === failure;
}

const INSTALL_HINT =
  'install OpenZFS (Debian/Ubuntu: `apt-get install zfsutils-linux`) or zfs-fuse (`apt-get install zfs-fuse`), or point the `zfsPath` option at the `zfs` program';

/**
 * A {@link ZfsRunner} over execa: argument arrays, no shell, `LC_ALL=C`. Failures become
 * {@link CommandFailedError}s; a missing program or a stopped ZFS service becomes
 * `BACKEND_UNAVAILABLE` with what to install or start.
 *
 * @param zfsPath - the `zfs` program
 */
export function execaRunner(zfsPath: string): ZfsRunner {
  return {
    async run(args) {
      const result = await execa(zfsPath, [...args], {
        reject: false,
        stdin: 'ignore',
        env: { LC_ALL: 'C' },
        stripFinalNewline: false,
      });
      if (result.exitCode === 0 && !result.failed) return result.stdout;
      const failure = {
        command: zfsPath,
        args: [...args],
        exitCode: result.exitCode ?? null,
        stderr: (result.stderr || result.message || '').trim(),
      };
      const error = new CommandFailedError(failure);
      if ((result as { code?: string }).code === 'ENOENT') {
        throw new CacheVolumeError(
          'BACKEND_UNAVAILABLE',
          `The ZFS program \`${zfsPath}\` was not found: ${INSTALL_HINT}.`,
          {
            cause: error,
            details: { ...failure },
          },
        );
      }
      if (classifyFailure(failure.stderr) === 'unavailable') {
        throw new CacheVolumeError(
          'BACKEND_UNAVAILABLE',
          `ZFS is installed but not running: start the zfs-fuse daemon (\`zfs-fuse\`) or load the OpenZFS kernel module (\`modprobe zfs\`). \`${zfsPath}\` said: ${failure.stderr}`,
          { cause: error, details: { ...failure } },
        );
      }
      throw error;
    },
  };
}
