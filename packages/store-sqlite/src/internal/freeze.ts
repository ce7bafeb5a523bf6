/**
 * Freezes a value and everything it holds. The store freezes the slices it loads, so a slice
 * function cannot change a loaded record in place (which the store, comparing records by
 * reference, would not write back), and callers cannot be misled into thinking they can.
 *
 * @param value - freshly parsed JSON
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
  return value;
}
