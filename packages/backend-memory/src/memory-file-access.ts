import type { FileAccess } from '@cachevol/core';
import type { MemoryBackend } from './memory-backend.js';

/**
 * A `FileAccess` that reads and writes a memory backend's forks by mount URI, so the
 * conformance suite and the model-based harness of `@cachevol/core/testing` can use it.
 *
 * @param backend - the memory backend, or a function returning the current one
 */
export function memoryFileAccess(backend: MemoryBackend | (() => MemoryBackend)): FileAccess {
  const get = typeof backend === 'function' ? backend : () => backend;
  return {
    async write(mountPath, path, text) {
      get().files(mountPath).write(path, text);
    },
    async read(mountPath, path) {
      return get().files(mountPath).readText(path);
    },
    async remove(mountPath, path) {
      get().files(mountPath).remove(path);
    },
    async list(mountPath) {
      return get().files(mountPath).list();
    },
    async fill(mountPath, path, bytes) {
      get().files(mountPath).write(path, new Uint8Array(bytes));
    },
  };
}
