import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { CacheVolumeError, CommandFailedError, type Progress } from '@cachevol/core';
import { type CloneMode, copyCommand, errnoFromStderr } from './copy-command.js';
import { startCopyProgress } from './copy-progress.js';
import { cpUnavailable } from './probe-cp.js';
import type { Command } from './sync-filesystem.js';

export type { CloneMode } from './copy-command.js';

/** Options for {@link copyTree}. */
export interface CopyTreeOptions {
  /** How file data is copied. */
  clone: CloneMode;
  /**
   * Called with bytes done and total while the copy runs: `{ doneBytes: 0, totalBytes: null }`
   * first, then estimates every `progressIntervalMs`, then the total at the end. An exception
   * stops the copy, and `copyTree` rejects with it.
   */
  onProgress?: ((progress: Progress) => void) | undefined;
  /** How often progress is sampled. @defaultValue 250 */
  progressIntervalMs?: number;
}

/** How a command ended. */
interface Ended {
  exitCode: number | null;
  stderr: string;
  /** Set when the program could not be started. */
  spawnError?: NodeJS.ErrnoException;
}

/** Keep at most this much of a command's standard error. */
const STDERR_LIMIT = 64 * 1024;

/** Runs a command without a shell, in the C locale; `started` gets a way to stop it. */
function runCommand({ command, args }: Command, started: (kill: () => void) => void): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      shell: false,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk;
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('close', (exitCode) => resolve({ exitCode, stderr: stderr.trim(), spawnError }));
    started(() => child.kill('SIGTERM'));
  });
}

/**
 * Copies a directory tree into a new directory `to` (which must not exist) with the system's
 * `cp` (see {@link copyCommand}): everything `cp -a` keeps is kept, and symlinks are copied as
 * links, never followed. A failed copy may leave a partial `to`: the caller removes it.
 *
 * @param from - the source directory
 * @param to - the destination, created by the copy
 * @param options - clone mode and progress
 * @throws the error `onProgress` threw; a {@link CommandFailedError} (with `details.errno` when
 *   `cp` reported one, e.g. `ENOSPC`) when `cp` fails
 */
export async function copyTree(from: string, to: string, options: CopyTreeOptions): Promise<void> {
  const cmd = copyCommand(from, to, options.clone);
  const progress = options.onProgress
    ? await startCopyProgress({
        source: from,
        destinationDir: dirname(to),
        onProgress: options.onProgress,
        intervalMs: options.progressIntervalMs ?? 250,
      })
    : undefined;
  const ended = await runCommand(cmd, (kill) => progress?.onFailure(kill));
  if (progress?.failure) throw progress.failure.error;
  if (ended.exitCode !== 0) {
    progress?.stop();
    // Checked only now, so that a backend that copies nothing starts no `cp --version`.
    const noCp = cpUnavailable();
    if (noCp) {
      throw new CacheVolumeError('BACKEND_UNAVAILABLE', `The dir backend copies with cp, but ${noCp}.`, {
        details: { from, to },
      });
    }
    const errno = ended.spawnError?.code ?? errnoFromStderr(ended.stderr);
    throw new CommandFailedError(
      {
        ...cmd,
        exitCode: ended.exitCode,
        stderr: ended.spawnError ? `${ended.spawnError.message}` : ended.stderr,
      },
      'BACKEND_FAILED',
      { details: errno ? { errno } : {} },
    );
  }
  await progress?.finish();
}

/**
 * What `cp` said about a file of `source` that it could not read (permission denied, an I/O
 * error), or `null` when the copy failed for another reason (a full disk is the destination's
 * problem, not the version's).
 *
 * @param error - what the copy threw (a {@link CommandFailedError}, or an error caused by one)
 * @param source - the tree that was copied
 */
export function unreadableSource(error: unknown, source: string): string | null {
  const failed = error instanceof CommandFailedError ? error : (error as { cause?: unknown } | null)?.cause;
  if (!(failed instanceof CommandFailedError)) return null;
  const line = failed.stderr
    .split('\n')
    .find((text) => text.includes(`'${source}/`) && /Permission denied|Input\/output error/.test(text));
  return line?.trim() ?? null;
}
