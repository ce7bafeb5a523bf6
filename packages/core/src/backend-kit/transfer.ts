import { createHash } from 'node:crypto';
import type { ReceiveOptions } from '../contracts/backend.js';
import { CacheVolumeError } from '../errors.js';
import { pipeCommand, type StreamCommandOptions, streamCommand } from './stream.js';

const TAR: StreamCommandOptions = {
  installHint: 'install GNU tar and zstd (e.g. `apt-get install tar zstd`)',
};

/**
 * Writes the tree under `dir` as a `tar-zstd` stream: GNU tar with `--zstd`, owners as numbers,
 * sparse files kept sparse, the paths relative to `dir` (`./...`). Stopping the iteration early
 * kills tar.
 *
 * @param dir - the directory to send (a version's files)
 */
export function tarZstdStream(dir: string): AsyncGenerator<Uint8Array> {
  return streamCommand(
    'tar',
    ['--zstd', '--create', '--file=-', `--directory=${dir}`, '--numeric-owner', '--sparse', '.'],
    TAR,
  );
}

/**
 * Extracts a `tar-zstd` stream into `dir`, an empty directory (under a scratch name). GNU tar keeps
 * every member inside `dir`: it drops a leading `/`, skips names with `..`, and writes no file
 * through a symbolic link it extracted. The caller removes `dir` when this fails.
 *
 * @param dir - the directory to fill
 * @param input - the stream
 */
export async function extractTarZstd(dir: string, input: AsyncIterable<Uint8Array>): Promise<void> {
  await pipeCommand(
    'tar',
    ['--zstd', '--extract', '--file=-', `--directory=${dir}`, '--numeric-owner', '--preserve-permissions'],
    input,
    TAR,
  );
}

/** A stream being received, and the check of its digest: see {@link verifiedInput}. */
export interface VerifiedInput {
  /** The same bytes, hashed (and reported as progress) as they pass. */
  input: AsyncGenerator<Uint8Array>;
  /**
   * Once `input` has been read to its end: checks its sha256 against the expected one (waiting
   * for it when it is a promise).
   *
   * @param what - what was received, for the message (`version v1`)
   * @throws `CacheVolumeError` `BACKEND_FAILED`, `details.reason` `digest-mismatch`, when they
   *   differ; the expected digest's own failure when its promise rejects
   */
  verify(what: string): Promise<void>;
}

/**
 * Hashes a stream as it is received, for `receiveVersion`: read `input` to its end (into the
 * tool that stores it), then call `verify()` before the version counts.
 *
 * @param stream - the bytes as they arrive
 * @param options - the expected sha256, progress
 */
export function verifiedInput(
  stream: AsyncIterable<Uint8Array>,
  options: Pick<ReceiveOptions, 'sha256' | 'onProgress' | 'totalBytes'>,
): VerifiedInput {
  const hash = createHash('sha256');
  const expected = Promise.resolve(options.sha256);
  expected.catch(() => undefined); // awaited by verify(); a failed receive may never get there
  let doneBytes = 0;
  let ended = false;
  async function* input(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream) {
      hash.update(chunk);
      doneBytes += chunk.length;
      options.onProgress?.({ doneBytes, totalBytes: options.totalBytes ?? null });
      yield chunk;
    }
    ended = true;
  }
  return {
    input: input(),
    async verify(what) {
      const want = (await expected).toLowerCase();
      const actual = ended ? hash.digest('hex') : null;
      if (actual === want) return;
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        actual === null
          ? `The stream of ${what} was not read to its end, so its sha256 cannot be checked; nothing was kept.`
          : `The stream of ${what} does not match its sha256 (received ${actual}, sent ${want}): it was corrupted or cut short on the way; nothing was kept.`,
        { details: { reason: 'digest-mismatch', expected: want, actual, bytes: doneBytes } },
      );
    },
  };
}
