import type { ObjectStore } from '../contracts/object-store.js';
import { CacheVolumeError } from '../errors.js';

/** An {@link ObjectStore} in process memory, with what tests need to look inside it. */
export interface MemoryObjectStore extends ObjectStore {
  /** The keys stored, sorted. */
  keys(): string[];
  /**
   * Replaces an object's bytes (to simulate a corrupt or tampered object in a test).
   *
   * @param key - an existing object's key
   * @param bytes - the new bytes
   * @throws `NOT_FOUND` for a key that is not there
   */
  replace(key: string, bytes: Uint8Array): void;
}

function aborted(signal: AbortSignal | undefined, key: string): void {
  if (signal?.aborted)
    throw new CacheVolumeError('STORE_FAILED', `The transfer of object "${key}" was stopped.`, {
      cause: signal.reason,
      details: { key },
    });
}

function missing(key: string): CacheVolumeError {
  return new CacheVolumeError('NOT_FOUND', `No object "${key}" in the memory object store.`, {
    details: { key },
  });
}

/**
 * An object store in process memory: the reference implementation of {@link ObjectStore}, for
 * tests. An object is stored only once its whole stream was read; a key is written once (a
 * second put of it is `ALREADY_EXISTS`, which catches a caller that reuses keys).
 *
 * @param options - `name` for messages
 * @example
 * ```ts
 * const volumes = new CacheVolumes({ backend, store, objects: { store: createMemoryObjectStore() } })
 * ```
 */
export function createMemoryObjectStore(options: { name?: string } = {}): MemoryObjectStore {
  const objects = new Map<string, Uint8Array>();
  return {
    name: options.name ?? 'memory://objects',
    async put(key, body, { signal } = {}) {
      if (objects.has(key))
        throw new CacheVolumeError(
          'ALREADY_EXISTS',
          `Object "${key}" exists already; keys are written once.`,
          {
            details: { key },
          },
        );
      const chunks: Uint8Array[] = [];
      for await (const chunk of body) {
        aborted(signal, key);
        chunks.push(Uint8Array.from(chunk));
      }
      aborted(signal, key);
      const whole = Buffer.concat(chunks);
      objects.set(key, new Uint8Array(whole));
      return { bytes: whole.length };
    },
    async get(key, { signal } = {}) {
      const stored = objects.get(key);
      if (!stored) throw missing(key);
      const bytes: Uint8Array = stored;
      aborted(signal, key);
      async function* read(): AsyncGenerator<Uint8Array> {
        const step = 64 * 1024;
        for (let at = 0; at < bytes.length; at += step) {
          aborted(signal, key);
          yield bytes.slice(at, at + step);
        }
      }
      return read();
    },
    async delete(keys) {
      for (const key of keys) objects.delete(key);
    },
    keys: () => [...objects.keys()].sort(),
    replace(key, bytes) {
      if (!objects.has(key)) throw missing(key);
      objects.set(key, Uint8Array.from(bytes));
    },
  };
}
