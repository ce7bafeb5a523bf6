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
 * What {@link syncFilesystem} did: `synced`; `unsupported` (no `sync`, or one without `-f`, or
 * not Linux: do not try again); `failed` (it ran and failed, for example on a vanished path).
 */
export type SyncResult = 'synced' | 'unsupported' | 'failed';

/**
 * Flushes the filesystem holding `path` with {@link syncFilesystemCommand}. When it does not
 * report `synced`, the caller flushes file by file, which also surfaces any I/O error.
 *
 * @param path - an absolute path on the filesystem to flush
 */
export function syncFilesystem(path: string): Promise<SyncResult> {
  if (process.platform !== 'linux') return Promise.resolve('unsupported');
  const { command, args } = syncFilesystemCommand(path);
  return new Promise((resolve) => {
    execFile(command, args, { shell: false }, (error, _stdout, stderr) => {
      if (!error) resolve('synced');
      else if (
        (error as NodeJS.ErrnoException).code === 'ENOENT' ||
        /invalid option|illegal option|unrecognized|usage/i.test(stderr)
      ) {
        resolve('unsupported');
      } else resolve('failed');
    });
  });
}
