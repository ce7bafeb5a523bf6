/**
 * Longest parent dataset name accepted. ZFS names stop at 255 characters; cachevol appends
 * `/versions/<id>@v` (at most 76 characters) to it.
 */
export const MAX_DATASET_NAME_LENGTH = 170;

const POOL = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
const COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

/**
 * Checks the parent dataset name given in the options: a pool name followed by `/`-separated
 * components of letters, digits, `_`, `.`, `:` and `-`. No snapshots (`@`), bookmarks (`#`),
 * spaces, empty, `.` or `..` components, or leading `-`.
 *
 * @param value - the name to check
 * @returns what is wrong with it, or `undefined` when it is fine
 */
export function datasetNameProblem(value: string): string | undefined {
  if (value.length === 0) return 'expected a ZFS dataset name such as "tank/cachevol"';
  if (value.length > MAX_DATASET_NAME_LENGTH)
    return `a dataset name longer than ${MAX_DATASET_NAME_LENGTH} characters`;
  const [pool, ...rest] = value.split('/');
  if (!pool || !POOL.test(pool)) {
    return `${JSON.stringify(value)} does not start with a pool name (a letter, then letters, digits, "_", ".", ":" or "-")`;
  }
  for (const component of rest) {
    if (component === '.' || component === '..' || !COMPONENT.test(component)) {
      return `${JSON.stringify(value)} has an invalid component ${JSON.stringify(component)}: use letters, digits, "_", ".", ":" and "-", separated by single "/" (no "@", "#" or spaces)`;
    }
  }
  return undefined;
}
