import type { SliceUpdate } from '../contracts/store.js';
import { CacheVolumeError } from '../errors.js';
import type { VolumeKey, VolumeSlice } from '../model/state.js';

/**
 * Helpers every {@link Store} implementation shares: checking what a transaction function
 * returned, and the cursor format of `listVolumes`.
 */

function internal(message: string): never {
  throw new CacheVolumeError('INTERNAL', `Store transaction function ${message}.`);
}

/**
 * Checks that a transaction function returned `{ slice, result }` for the volume it was given:
 * the slice's key, its volume record's key and every fork's volume are that volume's, and each
 * fork is filed under its own id. A store calls it before writing anything.
 *
 * @param out - what the function returned
 * @param key - the volume the transaction is on
 * @throws `INTERNAL` when the shape is wrong (nothing is written)
 */
export function checkSliceUpdate<T>(out: SliceUpdate<T>, key: VolumeKey): asserts out is SliceUpdate<T> {
  if (!out || typeof out !== 'object' || !('slice' in out)) internal('must return { slice, result }');
  const slice = out.slice as VolumeSlice | null | undefined;
  if (!slice || typeof slice !== 'object' || typeof slice.forks !== 'object' || slice.forks === null)
    internal('returned no slice');
  const same = (k: VolumeKey | null | undefined) => !!k && k.scope === key.scope && k.name === key.name;
  if (!same(slice)) internal(`returned the slice of another volume (${slice.scope}/${slice.name})`);
  if (slice.volume !== null && (typeof slice.volume !== 'object' || !same(slice.volume)))
    internal('returned a volume record of another volume');
  for (const [id, fork] of Object.entries(slice.forks)) {
    if (!fork || fork.id !== id || !same(fork))
      internal(`returned fork "${id}" filed under the wrong id or volume`);
  }
}

/**
 * The `listVolumes` cursor of the page that ends at `key`: opaque to callers, the same format in
 * every store.
 *
 * @param key - the last volume of the page
 */
export function encodeCursor(key: VolumeKey): string {
  return Buffer.from(JSON.stringify([key.scope, key.name])).toString('base64url');
}

/**
 * Reads a cursor made by {@link encodeCursor}.
 *
 * @param cursor - the cursor
 * @throws `INVALID_ARGUMENT` for a cursor no store made
 */
export function decodeCursor(cursor: string): VolumeKey {
  try {
    const [scope, name] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof scope === 'string' && typeof name === 'string') return { scope, name };
  } catch {
    // fall through
  }
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Not a listVolumes cursor: ${JSON.stringify(cursor)}. Pass the "next" of the previous page.`,
  );
}
