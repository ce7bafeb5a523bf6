import { CacheVolumeError } from '@cachevol/core';
import { flatten, type Layer, readLayer } from './internal/layer.js';

/**
 * Normalises a path inside a tree: relative, `/`-separated, no `.`/`..`/empty segments.
 *
 * @param path - e.g. `node_modules/a/index.js`
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for absolute paths or traversal
 */
export function treePath(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (path.startsWith('/') || segments.length === 0 || segments.includes('..') || path.includes('\u0000')) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid path ${JSON.stringify(path)}: use a relative path inside the volume, without "..".`,
    );
  }
  return segments.join('/');
}

/** Read access to a memory file tree. */
export interface ReadableTree {
  /**
   * Reads a file.
   * @param path - relative path
   * @returns its bytes, or `undefined` when it does not exist
   */
  read(path: string): Uint8Array | undefined;
  /**
   * Reads a file as UTF-8.
   * @param path - relative path
   * @returns its text, or `undefined` when it does not exist
   */
  readText(path: string): string | undefined;
  /** Every file path, sorted. */
  list(): string[];
  /** All files as `{ path: text }`, for assertions. */
  snapshot(): Record<string, string>;
  /** Total bytes of all files. */
  usedBytes(): number;
}

/** Read-write access to a fork's memory file tree. */
export interface WritableTree extends ReadableTree {
  /**
   * Writes a file (creating parents implicitly).
   * @param path - relative path
   * @param data - text (UTF-8) or bytes
   * @throws `CAPACITY_EXCEEDED` when the tree would exceed the fork's capacity (the write is
   *   not applied)
   */
  write(path: string, data: string | Uint8Array): void;
  /**
   * Deletes a file; a missing file is fine.
   * @param path - relative path
   */
  remove(path: string): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Read access over a layer chain.
 *
 * @param top - returns the current top layer (it is read on every call)
 */
export function readableTree(top: () => Layer): ReadableTree {
  return {
    read: (path) => readLayer(top(), treePath(path)),
    readText(path) {
      const data = readLayer(top(), treePath(path));
      return data && decoder.decode(data);
    },
    list: () => [...flatten(top()).keys()].sort(),
    snapshot() {
      const out: Record<string, string> = {};
      for (const [path, data] of [...flatten(top())].sort(([a], [b]) => a.localeCompare(b)))
        out[path] = decoder.decode(data);
      return out;
    },
    usedBytes: () => sizeOf(top()),
  };
}

/**
 * Bytes used by the files visible through a layer chain.
 *
 * @param layer - the top layer
 */
export function sizeOf(layer: Layer): number {
  let total = 0;
  for (const data of flatten(layer).values()) total += data.length;
  return total;
}

/**
 * Read-write access to a fork's top layer, enforcing its capacity.
 *
 * @param top - returns the fork's top layer, or throws when the fork is gone
 * @param capacityBytes - the fork's capacity
 */
export function writableTree(top: () => Layer, capacityBytes: () => number): WritableTree {
  const readable = readableTree(top);
  return {
    ...readable,
    write(path, data) {
      const key = treePath(path);
      const bytes = typeof data === 'string' ? encoder.encode(data) : new Uint8Array(data);
      const layer = top();
      const after = sizeOf(layer) - (readLayer(layer, key)?.length ?? 0) + bytes.length;
      if (after > capacityBytes()) {
        throw new CacheVolumeError(
          'CAPACITY_EXCEEDED',
          `Writing ${key} would use ${after} bytes, past the fork's capacity of ${capacityBytes()} bytes.`,
          {
            details: { path: key, capacityBytes: capacityBytes() },
          },
        );
      }
      layer.files.set(key, bytes);
    },
    remove(path) {
      const key = treePath(path);
      const layer = top();
      if (readLayer(layer, key) !== undefined) layer.files.set(key, null);
    },
  };
}
