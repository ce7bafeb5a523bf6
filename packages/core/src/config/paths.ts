import { posix } from 'node:path';
import { z } from 'zod';
import { CacheVolumeError } from '../errors.js';
import { parseOptions } from '../options.js';
import { describeValue } from './internal/describe.js';

/** The operating systems whose path rules cachevol knows. */
export const CACHE_OS = ['linux', 'macos'] as const;

/** An operating system whose path rules apply: `linux` or `macos`. */
export type CacheOs = (typeof CACHE_OS)[number];

/**
 * The volume subdirectory that holds the absolute paths of a pipeline: `/tmp/volume` is kept at
 * `.cachevol-root/tmp/volume` inside the volume, while the relative path `tmp/volume` is kept at
 * `tmp/volume`. Relative paths may not start with this name (in any letter case), so the two
 * kinds never share a subdirectory.
 */
export const ABSOLUTE_PATHS_SUBDIR = '.cachevol-root';

/**
 * Paths that may not be cache paths on macOS (compared without regard to letter case, as APFS
 * does): `/tmp` and `/private`, which the product docs name, and the other names of the same
 * directories (`/tmp`, `/var` and `/etc` are links into `/private`). Sub-paths such as
 * `/tmp/volume` are fine.
 */
export const MACOS_RESERVED_PATHS: readonly string[] = Object.freeze([
  '/tmp',
  '/private',
  '/var',
  '/etc',
  '/private/tmp',
  '/private/var',
  '/private/etc',
]);

/** Longest cache path accepted, in UTF-8 bytes (Linux `PATH_MAX` less the final NUL). */
export const MAX_CACHE_PATH_BYTES = 4095;
/** Longest single path segment accepted, in UTF-8 bytes (`NAME_MAX` on Linux and macOS). */
export const MAX_PATH_SEGMENT_BYTES = 255;

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The characters that start a glob pattern (`*`, `**`, `?`, `[...]`, `{a,b}`). */
const GLOB = /[*?[{]/;

function invalidPath(path: unknown, rule: string): never {
  throw new CacheVolumeError('INVALID_ARGUMENT', `Invalid cache path ${describeValue(path)}: ${rule}.`, {
    details: { path },
  });
}

/** Folds a name the way a case-insensitive filesystem might compare it. */
function fold(name: string): string {
  // Stryker disable next-line MethodExpression: after NFKC no code point upper-cases into a letter of ".cachevol-root" that it does not lower-case into (checked over all of Unicode)
  return name.normalize('NFKC').toUpperCase().toLowerCase();
}

/**
 * Checks a cache path as written in pipeline.yml and returns its normal spelling: `.` segments,
 * repeated and trailing slashes dropped, `..` applied. A path starting with `/` is absolute
 * (relative to the instance root); any other path is relative to the step's working directory.
 *
 * Refused: non-strings; empty paths; control characters; paths naming the working directory or
 * the instance root itself (`.`, `/`); `..` that climbs out of its root at any point (also
 * `/../x`: it is refused, never clamped to `/x`); glob patterns (`*`, `?`, `[`, `{`: a path
 * names one directory); a leading `~` (`parsePipeline` expands `~` and `~/x` before this
 * check, see {@link expandCacheHome}); relative
 * paths starting with {@link ABSOLUTE_PATHS_SUBDIR}; segments over
 * {@link MAX_PATH_SEGMENT_BYTES} bytes and paths over {@link MAX_CACHE_PATH_BYTES} bytes; and, on
 * macOS, the {@link MACOS_RESERVED_PATHS} themselves.
 *
 * @param path - the path as written
 * @param os - whose rules apply
 * @returns the normal spelling, e.g. `node_modules` for `./node_modules/`, `/tmp` for `//tmp/.`
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` naming the path and the rule it broke
 *
 * @example
 * ```ts
 * normalizeCachePath('./vendor//bundle/', 'linux') // 'vendor/bundle'
 * normalizeCachePath('/tmp/', 'macos') // throws: /tmp is reserved on macOS
 * ```
 */
export function normalizeCachePath(path: unknown, os: CacheOs): string {
  if (typeof path !== 'string') return invalidPath(path, 'expected a string');
  if (path.length === 0) {
    return invalidPath(
      path,
      'a path may not be empty; write a directory such as "node_modules" or "/tmp/volume"',
    );
  }
  if (CONTROL.test(path)) return invalidPath(path, 'control characters (NUL, newline, tab) are not allowed');
  const glob = GLOB.exec(path);
  if (glob !== null) {
    return invalidPath(
      path,
      `"${glob[0]}" makes it a glob pattern, and globs are not expanded: a cache path names one directory, kept whole with everything below it; name that directory (such as "node_modules" instead of "node_modules/**")`,
    );
  }
  if (Buffer.byteLength(path) > MAX_CACHE_PATH_BYTES) {
    return invalidPath(path, `it is longer than ${MAX_CACHE_PATH_BYTES} bytes`);
  }
  const absolute = path.startsWith('/');
  const root = absolute ? 'the instance root' : "the step's working directory";
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return invalidPath(path, `".." climbs out of ${root}`);
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_PATH_SEGMENT_BYTES) {
      return invalidPath(path, `a segment is longer than ${MAX_PATH_SEGMENT_BYTES} bytes`);
    }
    segments.push(segment);
  }
  const [first] = segments;
  if (first === undefined) {
    const example = absolute ? '"/tmp/volume"' : '"node_modules"';
    return invalidPath(path, `it names ${root} itself; name a directory inside it, such as ${example}`);
  }
  if (!absolute && first.startsWith('~')) {
    return invalidPath(
      path,
      first === '~'
        ? '"~" is expanded only by parsePipeline, from the home directory (HOME); here write an absolute path'
        : `"${first}" (another user's home) is not expanded; write an absolute path`,
    );
  }
  if (!absolute && fold(first) === ABSOLUTE_PATHS_SUBDIR) {
    return invalidPath(
      path,
      `"${ABSOLUTE_PATHS_SUBDIR}" is reserved inside volumes for absolute paths; use another name`,
    );
  }
  const normal = (absolute ? '/' : '') + segments.join('/');
  if (os === 'macos' && absolute && MACOS_RESERVED_PATHS.includes(normal.toLowerCase())) {
    return invalidPath(
      path,
      `${normal} is reserved on macOS (reserved: ${MACOS_RESERVED_PATHS.join(', ')}); use a sub-path such as "${normal}/volume"`,
    );
  }
  return normal;
}

/**
 * Expands a leading `~` in a cache path as a shell would: `~` is the home directory, `~/x` is
 * `x` inside it. Other paths (also `~user/x`, which stays refused) are returned unchanged.
 *
 * @param path - the path as written
 * @param home - the home directory, absolute (the `HOME` of the environment), or `undefined`
 * @returns the path with the home directory in place of `~`
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` when the path starts with `~` and there
 *   is no home directory
 *
 * @example
 * ```ts
 * expandCacheHome('~/.cache/pip', '/home/agent') // '/home/agent/.cache/pip'
 * ```
 */
export function expandCacheHome(path: string, home: string | undefined): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  if (home === undefined) {
    return invalidPath(path, '"~" needs a home directory, and none is known (HOME is not set)');
  }
  return home.replace(/\/+$/, '') + path.slice(1) || '/';
}

/**
 * The volume subdirectory that holds a cache path: a relative path is kept under its own
 * spelling (`node_modules` at `node_modules`, as Buildkite links `./node_modules` to
 * `/cache/bkcache/node_modules`); an absolute path is kept under {@link ABSOLUTE_PATHS_SUBDIR}
 * (`/tmp/volume` at `.cachevol-root/tmp/volume`). The mapping is one-to-one and
 * {@link cachePathFromSubdir} reverses it.
 *
 * @param path - the path as written (it is checked and normalised first)
 * @param os - whose rules apply
 * @returns a relative path inside the volume, without `.` or `..` segments
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` as {@link normalizeCachePath} does
 *
 * @example
 * ```ts
 * cacheSubdir('node_modules', 'linux') // 'node_modules'
 * cacheSubdir('/tmp/x', 'linux') // '.cachevol-root/tmp/x'
 * ```
 */
export function cacheSubdir(path: string, os: CacheOs): string {
  const normal = normalizeCachePath(path, os);
  return normal.startsWith('/') ? `${ABSOLUTE_PATHS_SUBDIR}${normal}` : normal;
}

/**
 * The cache path a volume subdirectory holds: the inverse of {@link cacheSubdir}.
 *
 * @param subdir - a subdirectory as {@link cacheSubdir} returns it
 * @returns the normal spelling of the cache path (absolute when `subdir` is under
 *   {@link ABSOLUTE_PATHS_SUBDIR})
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` when `subdir` is not one that
 *   {@link cacheSubdir} makes
 *
 * @example
 * ```ts
 * cachePathFromSubdir('.cachevol-root/tmp/x') // '/tmp/x'
 * ```
 */
export function cachePathFromSubdir(subdir: string): string {
  const prefix = `${ABSOLUTE_PATHS_SUBDIR}/`;
  const path =
    typeof subdir === 'string' && subdir.startsWith(prefix)
      ? subdir.slice(ABSOLUTE_PATHS_SUBDIR.length)
      : subdir;
  try {
    // Stryker disable next-line StringLiteral: only "macos" adds rules to those of every system
    if (path.startsWith('/') === (path !== subdir) && normalizeCachePath(path, 'linux') === path) return path;
  } catch {
    // reported below, as a bad subdirectory
  }
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid volume subdirectory ${describeValue(subdir)}: expected one that cacheSubdir() returns.`,
    { details: { subdir } },
  );
}

// Stryker disable Regex: posix.normalize has already folded repeated slashes into one
const hostRoot = (what: string) =>
  z
    .string()
    .refine((value) => value.startsWith('/') && !CONTROL.test(value), `${what} must be an absolute path`)
    .transform((value) => posix.normalize(value).replace(/(.)\/+$/, '$1'));
// Stryker restore Regex

/** The schema of {@link ResolveCachePathOptions}. */
export const resolveCachePathOptionsSchema = z.strictObject({
  workdir: hostRoot('workdir').describe("the step's working directory on the host (absolute)"),
  instanceRoot: hostRoot('instanceRoot')
    .default('/')
    .describe('the host directory that absolute cache paths are relative to'),
  os: z.literal(CACHE_OS).describe('whose path rules apply: linux or macos'),
});

/**
 * Options for {@link resolveCachePath}.
 *
 * - `workdir`: the step's working directory on the host, absolute; relative cache paths are
 *   resolved against it.
 * - `instanceRoot` (default `"/"`): the host directory that stands for the instance's `/`;
 *   absolute cache paths are resolved against it (a local run may sandbox it).
 * - `os`: `linux` or `macos`, whose path rules apply.
 */
export type ResolveCachePathOptions = z.input<typeof resolveCachePathOptionsSchema>;

/** Where a cache path goes on the host and in the volume. */
export interface ResolvedCachePath {
  /** The normal spelling of the path (see {@link normalizeCachePath}). */
  path: string;
  /** `relative` (to the working directory) or `absolute` (to the instance root). */
  kind: 'relative' | 'absolute';
  /** The absolute host path where the link to the volume subdirectory goes. */
  linkPath: string;
  /** The subdirectory of the volume that is linked there, relative to the volume's root. */
  subdir: string;
}

/**
 * Resolves a cache path for one job: where its link goes on the host, and which subdirectory of
 * the volume it links to. Pure: it reads no filesystem (so it cannot see symlinks; the linker
 * must not follow them).
 *
 * The link is always strictly inside its root: `workdir` for relative paths, `instanceRoot` for
 * absolute ones.
 *
 * @param path - the cache path as written in pipeline.yml
 * @param options - the roots and the operating system
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for a path {@link normalizeCachePath}
 *   refuses, or for bad options
 *
 * @example
 * ```ts
 * resolveCachePath('node_modules', { workdir: '/workdir', os: 'linux' })
 * // { path: 'node_modules', kind: 'relative', linkPath: '/workdir/node_modules', subdir: 'node_modules' }
 * resolveCachePath('/tmp/volume', { workdir: '/workdir', instanceRoot: '/sandbox', os: 'macos' })
 * // { path: '/tmp/volume', kind: 'absolute', linkPath: '/sandbox/tmp/volume',
 * //   subdir: '.cachevol-root/tmp/volume' }
 * ```
 */
export function resolveCachePath(path: string, options: ResolveCachePathOptions): ResolvedCachePath {
  const { workdir, instanceRoot, os } = parseOptions(
    resolveCachePathOptionsSchema,
    options,
    'cache path options',
  );
  const normal = normalizeCachePath(path, os);
  if (normal.startsWith('/')) {
    return {
      path: normal,
      kind: 'absolute',
      linkPath: posix.join(instanceRoot, normal),
      subdir: `${ABSOLUTE_PATHS_SUBDIR}${normal}`,
    };
  }
  return { path: normal, kind: 'relative', linkPath: posix.join(workdir, normal), subdir: normal };
}
