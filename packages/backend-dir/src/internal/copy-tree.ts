import { dirname } from 'node:path';
import { CacheVolumeError, CommandFailedError, type Progress } from '@cachevol/core';
import { commandFailure, spawnCommand } from '@cachevol/core/backend-kit';
import { type CloneMode, copyCommand } from './copy-command.js';
import { startCopyProgress } from './copy-progress.js';
import { cpUnavailable } from './probe-cp.js';

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

/**
 * Copies a directory tree into a new directory `to` (which must not exist) with the system's
 * `cp` (see {@link copyCommand}): everything `cp -a` keeps is kept, and symlinks are copied as
 * links, never followed. A failed copy may leave a partial `to`: the caller removes it.
 *
 * @param from - the source directory
 * @param to - the destination, created by the copy
 * @param options - clone mode and progress
 * @throws the error `onProgress` threw; a {@link CommandFailedError} (with `details.errno` when
 *   `cp` reported one, e.g. `ENOSPC`) when `cp` fails; `BACKEND_UNAVAILABLE` when `cp` cannot
 *   be started
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
  const stop = new AbortController();
  progress?.onFailure(() => stop.abort());
  const ended = await spawnCommand(cmd.command, cmd.args, {
    stdout: 'ignore',
    signal: stop.signal,
    installHint: 'install GNU coreutils',
  }).catch((error: unknown) => {
    progress?.stop();
    throw error;
  });
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
    // BACKEND_FAILED, with `details.errno` when cp named one (ENOSPC, EACCES, ...).
    throw commandFailure(cmd.command, cmd.args, ended);
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
