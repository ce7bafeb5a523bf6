import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { pipeCommand, runCommand, streamCommand } from '@cachevol/core/backend-kit';

const INSTALL_HINT =
  'install btrfs-progs (e.g. `apt-get install btrfs-progs`) or set the `btrfs` option to its path';

/**
 * Every state-changing step the backend takes, in one place, so that tests can simulate a
 * crash between any two steps. Reads (stat, readdir) go to `node:fs` directly.
 */
export interface Host {
  /** Runs `btrfs` with these arguments; resolves to its standard output. */
  btrfs(args: readonly string[]): Promise<string>;
  /** Runs `btrfs` (a `send`) and yields its standard output as it comes; see `streamCommand`. */
  btrfsOutput(args: readonly string[]): AsyncGenerator<Uint8Array>;
  /** Runs `btrfs` (a `receive`) with `input` as its standard input; see `pipeCommand`. */
  btrfsInput(args: readonly string[], input: AsyncIterable<Uint8Array>): Promise<void>;
  /** Creates a directory (absolute path) and its parents; an existing one is fine. */
  mkdir(path: string): Promise<void>;
  /** Renames within one subvolume (atomic); `to` must not exist. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a plain directory tree (never a subvolume). */
  removeTree(path: string): Promise<void>;
  /** Writes a small file (a version's cached size). */
  writeFile(path: string, text: string): Promise<void>;
}

/**
 * The real {@link Host}: `btrfs` through the backend kit's `runCommand` (argument arrays, no
 * shell, `LC_ALL=C`; a missing program is `BACKEND_UNAVAILABLE` saying to install btrfs-progs;
 * a failure is a `CommandFailedError`), its output without the final newline; directories
 * through `node:fs`.
 *
 * @param btrfs - the `btrfs` program
 */
export function nodeHost(btrfs: string): Host {
  return {
    btrfs: async (args) =>
      (await runCommand(btrfs, args, { installHint: INSTALL_HINT })).replace(/\r?\n$/, ''),
    btrfsOutput: (args) => streamCommand(btrfs, args, { installHint: INSTALL_HINT }),
    btrfsInput: async (args, input) => {
      await pipeCommand(btrfs, args, input, { installHint: INSTALL_HINT });
    },
    mkdir: (path) => mkdir(path, { recursive: true }).then(() => undefined),
    rename: (from, to) => rename(from, to),
    removeTree: (path) => rm(path, { recursive: true, force: true }),
    writeFile: (path, text) => writeFile(path, text),
  };
}
