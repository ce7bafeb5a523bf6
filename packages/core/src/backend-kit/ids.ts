import { ID_PATTERN, MAX_ID_LENGTH } from '../names.js';

export { ID_PATTERN } from '../names.js';

/**
 * Tells whether a name (a directory entry, a dataset's last component) is an id the engine could
 * have made: the same rule as `validateId`, without throwing. Backends use it to map what they
 * find on disk back to forks and versions, and to leave alone what they never made.
 *
 * @param name - the name found
 *
 * @example
 * ```ts
 * const ids = (await namesIn(versionsDir)).filter(isIdName)
 * ```
 */
export function isIdName(name: string): boolean {
  return name.length <= MAX_ID_LENGTH && ID_PATTERN.test(name);
}
