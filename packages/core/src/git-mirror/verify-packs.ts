import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheVolumeError } from '../errors.js';

/** How a pack or index file ends: the hash of everything before it (SHA-1, or SHA-256 repositories). */
const TRAILERS = [
  { algorithm: 'sha1', bytes: 20 },
  { algorithm: 'sha256', bytes: 32 },
] as const;

async function hashOf(path: string, algorithm: string, end: number): Promise<Buffer> {
  const hash = createHash(algorithm);
  if (end > 0)
    for await (const chunk of createReadStream(path, { end: end - 1 })) hash.update(chunk as Buffer);
  return hash.digest();
}

async function intact(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    for (const { algorithm, bytes } of TRAILERS) {
      if (size < bytes) continue;
      const trailer = Buffer.alloc(bytes);
      await file.read(trailer, 0, bytes, size - bytes);
      if ((await hashOf(path, algorithm, size - bytes)).equals(trailer)) return true;
    }
    return false;
  } finally {
    await file.close();
  }
}

/**
 * Checks every pack and pack index of a repository against the checksum it ends with (git
 * writes the hash of a pack's bytes at its end): a read of each file, far cheaper than
 * `git fsck`, which finds a pack that was truncated, overwritten or rotted on disk before its
 * files are copied into a checkout.
 *
 * @param repository - a bare repository (the mirror)
 * @throws `CacheVolumeError` `BACKEND_FAILED` naming the first file that does not match
 */
export async function verifyPacks(repository: string): Promise<void> {
  const dir = join(repository, 'objects', 'pack');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /\.(pack|idx)$/.test(n));
  for (const name of names.sort())
    if (!(await intact(join(dir, name))))
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `The mirror's ${name} does not match its checksum: it is corrupt.`,
        {
          details: { file: join(dir, name) },
        },
      );
}
