import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { FileAccess } from '../contracts/file-access.js';

export type { FileAccess };

/** Entries a filesystem may put in a fresh mount that are not volume content. */
const IGNORED = new Set(['lost+found']);

/**
 * Pseudo-random bytes from a fixed seed (xorshift), so fills are incompressible and repeatable.
 *
 * @param length - how many bytes
 * @param seed - the seed
 */
export function noise(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
    out[i + 1] = (x >>> 8) & 0xff;
    out[i + 2] = (x >>> 16) & 0xff;
    out[i + 3] = (x >>> 24) & 0xff;
  }
  return out;
}

/** {@link FileAccess} on real directories with `node:fs`. */
export const nodeFileAccess: FileAccess = {
  async write(mountPath, path, text) {
    const file = join(mountPath, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  },
  async read(mountPath, path) {
    try {
      return await readFile(join(mountPath, path), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  async remove(mountPath, path) {
    await rm(join(mountPath, path), { force: true });
  },
  async list(mountPath) {
    const entries = await readdir(mountPath, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(mountPath, join(e.parentPath, e.name)).split(sep).join('/'))
      .filter((p) => !IGNORED.has(p.split('/')[0] as string))
      .sort();
  },
  async fill(mountPath, path, bytes) {
    const file = join(mountPath, path);
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(file, 'w');
    try {
      const chunk = noise(Math.min(bytes, 1 << 20));
      for (let done = 0; done < bytes; done += chunk.length) {
        await handle.write(chunk, 0, Math.min(chunk.length, bytes - done));
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
