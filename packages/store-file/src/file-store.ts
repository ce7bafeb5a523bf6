import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CacheVolumeError, parseOptions, type State, type Store, type StoreUpdate } from '@cachevol/core';
import { withFileLock } from './internal/lock.js';

import {
  readStateFile,
  removeStrayTempFiles,
  serializeState,
  stateProblem,
  writeStateFile,
} from './internal/state-file.js';
import { type FileStoreOptions, fileStoreOptionsSchema } from './options.js';

/** A {@link Store} kept in one JSON file; see {@link createFileStore}. */
export interface FileStore extends Store {
  /** The absolute path of the state file. */
  readonly path: string;
}

/**
 * Creates a store that keeps the model's state in one JSON file, for every process on one host
 * (or on a filesystem whose `mkdir` and `rename` are atomic).
 *
 * - `read()` takes no lock: writes replace the file by `rename`, so a reader always gets a whole
 *   document. A missing file reads as an empty state.
 * - `update(fn)` takes the cross-process lock (`<path>.lock`, via `proper-lockfile`: stale
 *   detection so a crashed holder blocks others for seconds, not forever; retries with
 *   backoff up to `lockTimeoutMs`), reads, calls `fn`, writes atomically (temporary file,
 *   fsync, rename, directory fsync) unless nothing changed, and unlocks. If `fn` throws,
 *   nothing is written. Updates from one store object also queue in process.
 * - A corrupt state file is `STORE_FAILED` naming the file and how to recover; it is never
 *   replaced. The previous good state is kept as `<path>.bak`.
 *
 * @param options - `path` and `lockTimeoutMs` (see {@link FileStoreOptions})
 * @throws `INVALID_ARGUMENT` for bad options
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({
 *   backend: createDirBackend({ root: '/var/lib/cachevol/volumes' }),
 *   store: createFileStore({ path: '/var/lib/cachevol/state.json' }),
 * })
 * ```
 */
export function createFileStore(options: FileStoreOptions): FileStore {
  const opts = parseOptions(fileStoreOptionsSchema, options, 'createFileStore options');
  const path = resolve(opts.path);
  let tail: Promise<unknown> = Promise.resolve();
  let swept = false;

  const locked = <T>(fn: (state: State) => StoreUpdate<T>): Promise<T> =>
    withFileLock(path, opts.lockTimeoutMs, async (assertHeld) => {
      if (!swept) {
        await removeStrayTempFiles(path);
        swept = true;
      }
      const current = await readStateFile(path);
      const out = fn(current.state);
      if (!out || typeof out !== 'object' || !('state' in out) || stateProblem(out.state)) {
        throw new CacheVolumeError(
          'INTERNAL',
          'Store update function must return { state, result } with a valid state.',
        );
      }
      const text = serializeState(out.state);
      if (text !== current.text) {
        assertHeld();
        await writeStateFile(path, text, current.text !== null);
      }
      return out.result;
    });

  return {
    path,
    read: async () => (await readStateFile(path)).state,
    update<T>(fn: (state: State) => StoreUpdate<T>): Promise<T> {
      const run = tail
        .catch(() => undefined)
        .then(async () => {
          await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
            throw new CacheVolumeError(
              'STORE_FAILED',
              `Cannot create the directory of the state file ${path}: ${(error as Error).message}.`,
              {
                cause: error,
                details: { path },
              },
            );
          });
          return locked(fn);
        });
      tail = run;
      return run;
    },
  };
}
