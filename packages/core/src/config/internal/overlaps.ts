/** Something keyed by a path and a trailing `/` (folded to lower case where the filesystem ignores case). */
export interface Keyed {
  /** The path with a trailing `/`, e.g. `node_modules/`. */
  key: string;
}

/**
 * Every claim that equals or lies inside another, each with the outermost claim containing it:
 * `[inner, outer]`. Claims are keyed by their path and a trailing `/`, so sorting puts a path
 * right before everything below it, and one pass finds them all: O(n log n).
 */
export function nestedPairs<T extends Keyed>(claims: readonly T[]): [T, T][] {
  const sorted = [...claims].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const pairs: [T, T][] = [];
  let outer: T | undefined;
  for (const claim of sorted) {
    if (outer !== undefined && claim.key.startsWith(outer.key)) pairs.push([claim, outer]);
    else outer = claim;
  }
  return pairs;
}
