import { posix } from 'node:path';

/**
 * Paths a macOS host keeps for itself: the backend refuses them as its root (and so as a mount
 * point). Sub-paths such as `/tmp/cachevol` are fine. Compared case-insensitively, as APFS is by
 * default.
 */
export const RESERVED_MACOS_PATHS: readonly string[] = [
  '/',
  '/tmp',
  '/private',
  '/private/tmp',
  '/var',
  '/private/var',
  '/etc',
  '/private/etc',
  '/dev',
  '/Volumes',
  '/System',
  '/Users',
];

const RESERVED = new Set(RESERVED_MACOS_PATHS.map((p) => p.toLowerCase()));

/**
 * Writes a path the way the reserved list does: normalised (`//`, `.` and `..` folded) and
 * without a trailing `/`, so `/tmp/`, `//tmp` and `/var/../tmp` all read `/tmp`.
 *
 * @param path - an absolute path
 */
export function normalizeMacosPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

/**
 * Says why a path cannot be the backend's root, or `undefined` when it can.
 *
 * @param path - the path as given
 */
export function reservedPathProblem(path: string): string | undefined {
  const normal = normalizeMacosPath(path);
  if (!RESERVED.has(normal.toLowerCase())) return undefined;
  return `${JSON.stringify(path)} is ${normal}, a path macOS reserves (${RESERVED_MACOS_PATHS.join(', ')}); use a sub-path such as ${posix.join(normal, 'cachevol')}`;
}
