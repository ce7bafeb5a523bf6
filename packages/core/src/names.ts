import { CacheVolumeError } from './errors.js';

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/**
 * The shape of every id the engine makes (fork and version ids): lowercase letters, digits, `_`
 * and `-`, starting with a letter or digit. {@link validateId} also bounds the length by
 * {@link MAX_ID_LENGTH}; backends that map a directory entry back to an id use `isIdName` from
 * `@cachevol/core/backend-kit`, which applies both.
 */
export const ID_PATTERN: RegExp = /^[a-z0-9][a-z0-9_-]*$/;

/** Longest volume name or scope accepted, in characters. */
export const MAX_NAME_LENGTH = 200;
/** Longest backend id accepted, in characters (fits ZFS, btrfs and file names with room to spare). */
export const MAX_ID_LENGTH = 64;

function hasControlCharacter(value: string): boolean {
  // Stryker disable next-line EqualityOperator: charCodeAt past the end is NaN, which no comparison below accepts
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Checks a volume name or scope: one or more segments of letters, digits, `_`, `.` and `-`,
 * joined by single `/` (so `my-pipeline/container-cache` is fine). No `.` or `..` segments, no
 * leading `.` or `-`, no empty segments, no NUL, whitespace or shell metacharacters.
 *
 * @param value - the name to check
 * @param what - what the value is, for the error message (`volume name`, `scope`)
 * @returns the name, unchanged
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` saying which rule failed
 */
export function validateName(value: unknown, what = 'volume name'): string {
  const fail = (rule: string): never => {
    throw new CacheVolumeError('INVALID_ARGUMENT', `Invalid ${what} ${describe(value)}: ${rule}.`, {
      details: { [what]: value },
    });
  };
  if (typeof value !== 'string' || value.length === 0) return fail('expected a non-empty string');
  if (value.length > MAX_NAME_LENGTH) return fail(`it is longer than ${MAX_NAME_LENGTH} characters`);
  for (const segment of value.split('/')) {
    if (segment === '') return fail('it has an empty segment (leading, trailing or doubled "/")');
    if (segment === '.' || segment === '..') return fail('"." and ".." segments are not allowed');
    if (!SEGMENT.test(segment)) {
      return fail('use letters, digits, "_", "." and "-" (not first), and "/" between segments');
    }
  }
  return value;
}

/**
 * Checks an id made by the engine (fork and version ids): lowercase letters, digits, `_` and
 * `-`, starting with a letter or digit, at most {@link MAX_ID_LENGTH} characters. Backends call
 * this before using an id in a path or a command line.
 *
 * @param value - the id to check
 * @param what - what the id names, for the error message
 * @returns the id, unchanged
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT`
 */
export function validateId(value: unknown, what = 'id'): string {
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH && ID_PATTERN.test(value)) return value;
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid ${what} ${describe(value)}: ids are made by cachevol and use only a-z, 0-9, "_" and "-" (at most ${MAX_ID_LENGTH} characters).`,
    { details: { [what]: value } },
  );
}

/**
 * Checks a free-form label (host, job): 1 to 200 printable characters without NUL or control
 * characters. Labels are stored and displayed, never used in paths or commands.
 *
 * @param value - the label
 * @param what - what it is, for the error message
 * @returns the label, unchanged
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT`
 */
export function validateLabel(value: unknown, what: string): string {
  if (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_NAME_LENGTH &&
    !hasControlCharacter(value)
  ) {
    return value;
  }
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid ${what} ${describe(value)}: expected 1 to ${MAX_NAME_LENGTH} printable characters.`,
    { details: { [what]: value } },
  );
}
