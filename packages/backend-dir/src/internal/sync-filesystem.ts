import { execFile } from 'node:child_process';

/** A program and its arguments, run without a shell. */
export interface Command {
  /** The program. */
  command: string;
  /** Its arguments. */
  args: string[];
}

/**
 * The command that flushes the whole filesystem holding `path` (`syncfs(2)` through coreutils'
 * `sync -f`, Linux only). One `syncfs` is much faster than an `fsync` per file on trees with
 * many files.
 *
 * @param path - an absolute path on the filesystem to flush
 */
export function syncFilesystemCommand(path: string): Command {
  return { command: 'sync', args: ['-f', '--', path] };
}

/**
 * Flushes the filesystem holding `path` with {@link syncFilesystemCommand}.
 *
 * @param path - an absolute path on the filesystem to flush
 * @returns true when it ran and succeeded; false when the platform or its `sync` cannot do it
 *   (the caller then flushes file by file, which also surfaces any I/O error)
 */
export function syncFilesystem(path: string): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  const { command, args } = syncFilesystemCommand(path);
  return new Promise((resolve) => {
    execFile(command, args, { shell: false }, (error) => resolve(!error));
  });
}
