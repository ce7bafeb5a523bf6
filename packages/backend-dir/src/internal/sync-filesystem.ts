import { errnoCode, spawnCommand } from '@cachevol/core/backend-kit';

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
export async function syncFilesystem(path: string): Promise<SyncResult> {
  if (process.platform !== 'linux') return 'unsupported';
  const { command, args } = syncFilesystemCommand(path);
  try {
    const { exitCode, stderr } = await spawnCommand(command, args, { stdout: 'ignore' });
    if (exitCode === 0) return 'synced';
    return /invalid option|illegal option|unrecognized|usage/i.test(stderr) ? 'unsupported' : 'failed';
  } catch (error) {
    // Not installed: do not try again. Any other start failure may pass.
    return errnoCode(error) === 'ENOENT' ? 'unsupported' : 'failed';
  }
}
