import type { EntryKind } from '../contracts/backend.js';
import { CacheVolumeError } from '../errors.js';

/** Options for {@link notFound}. */
export interface NotFoundOptions {
  /** Where the backend looked (a root directory, a parent dataset), added to the message. */
  where?: string;
  /** More facts for `details`, besides the id under its kind. */
  details?: Record<string, unknown>;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Throws the `NOT_FOUND` error of a missing fork or version, in the words every backend uses:
 * `The dir backend has no version "v1" under /var/cache.`, with `details: { version: 'v1' }`.
 * Its return type is `never`, so `map.get(id) ?? notFound(...)` types as the value.
 *
 * @param backend - the backend's name, e.g. `dir`
 * @param kind - `fork` or `version`
 * @param id - the missing id
 * @param options - where it looked, extra details, a cause
 * @throws `CacheVolumeError` `NOT_FOUND`, always
 */
export function notFound(backend: string, kind: EntryKind, id: string, options: NotFoundOptions = {}): never {
  const where = options.where === undefined ? '' : ` under ${options.where}`;
  throw new CacheVolumeError('NOT_FOUND', `The ${backend} backend has no ${kind} "${id}"${where}.`, {
    cause: options.cause,
    details: {
      [kind]: id,
      ...(options.where === undefined ? {} : { where: options.where }),
      ...options.details,
    },
  });
}
