import { CommandFailedError } from '@cachevol/core';
import {
  BUSY_RETRY_DELAYS_MS,
  pipeCommand,
  retryWhileBusy,
  runCommand,
  type StderrRule,
  streamCommand,
} from '@cachevol/core/backend-kit';

/** Runs `zfs` with an argument list (never through a shell) and returns its standard output. */
export interface ZfsRunner {
  /** Rejects with a {@link CommandFailedError}, `BACKEND_UNAVAILABLE` when ZFS is missing or stopped. */
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

/** What `zfs` says when it runs but cannot reach ZFS (no daemon, no kernel module). */
const UNAVAILABLE =
  /failed to initialize ZFS library|zfs-fuse daemon is running|modules are not loaded|\/dev\/zfs/i;

/**
 * Classifies a failed `zfs` command by its standard error (run with `LC_ALL=C`, so messages
 * are in English). The same texts come from OpenZFS and zfs-fuse.
 *
 * @param stderr - what the command wrote to standard error
 */
export function classifyFailure(stderr: string): ZfsFailure {
  if (UNAVAILABLE.test(stderr)) return 'unavailable';
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

/** Tells whether an error is a failed `zfs` command of a given class. */
export function isZfsFailure(error: unknown, failure: ZfsFailure): error is CommandFailedError {
  return error instanceof CommandFailedError && classifyFailure(error.stderr) === failure;
}

const INSTALL_HINT =
  'install OpenZFS (Debian/Ubuntu: `apt-get install zfsutils-linux`) or zfs-fuse (`apt-get install zfs-fuse`), or point the `zfsPath` option at the `zfs` program';

/** A `zfs` that runs but cannot reach ZFS is `BACKEND_UNAVAILABLE`, saying what to start. */
const FAILURES: readonly StderrRule[] = [
  {
    pattern: UNAVAILABLE,
    code: 'BACKEND_UNAVAILABLE',
    hint: 'ZFS is installed but not running: start the zfs-fuse daemon (`zfs-fuse`) or load the OpenZFS kernel module (`modprobe zfs`).',
  },
];

/**
 * The real {@link ZfsRunner}: the backend kit's `runCommand` (argument arrays, no shell,
 * `LC_ALL=C`). Failures become {@link CommandFailedError}s; a missing program is
 * `BACKEND_UNAVAILABLE` saying what to install, and a stopped ZFS service a
 * `CommandFailedError` with code `BACKEND_UNAVAILABLE` saying what to start.
 *
 * @param zfsPath - the `zfs` program
 */
export function processRunner(zfsPath: string): ZfsRunner {
  return {
    run: (args) => runCommand(zfsPath, args, { installHint: INSTALL_HINT, failures: FAILURES }),
  };
}

/** Runs the `zfs` commands that stream: `zfs send` and `zfs receive`. */
export interface ZfsStreams {
  /** Yields the standard output of `zfs <args>` as it comes (see the kit's `streamCommand`). */
  output(args: readonly string[]): AsyncGenerator<Uint8Array>;
  /** Runs `zfs <args>` with `input` as its standard input (see the kit's `pipeCommand`). */
  input(args: readonly string[], input: AsyncIterable<Uint8Array>): Promise<void>;
}

/**
 * The real {@link ZfsStreams}, failures classified like {@link processRunner}'s.
 *
 * @param zfsPath - the `zfs` program
 */
export function processStreams(zfsPath: string): ZfsStreams {
  const options = { installHint: INSTALL_HINT, failures: FAILURES };
  return {
    output: (args) => streamCommand(zfsPath, args, options),
    input: async (args, input) => {
      await pipeCommand(zfsPath, args, input, options);
    },
  };
}

/**
 * A runner that retries a command while it fails with "dataset is busy" (pauses: the kit's
 * `BUSY_RETRY_DELAYS_MS`, about 5 s in all): zfs-fuse releases a filesystem asynchronously after
 * unmounting it, so a rename or destroy right after can fail for tens of milliseconds; on
 * OpenZFS a busy dataset is one a process really uses, and the last error is reported.
 */
export function retryingWhenBusy(
  runner: ZfsRunner,
  delaysMs: readonly number[] = BUSY_RETRY_DELAYS_MS,
): ZfsRunner {
  return {
    run: (args) =>
      retryWhileBusy(() => runner.run(args), { isBusy: (e) => isZfsFailure(e, 'busy'), delaysMs }),
  };
}
