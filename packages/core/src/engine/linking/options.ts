import { z } from 'zod';
import { CACHE_OS } from '../../config/paths.js';
import type { LinkMethod } from '../../model/state.js';

/** The link methods {@link LinkOptions} accepts: `auto` picks a bind mount where it can. */
export const LINK_METHODS = ['auto', 'bind', 'symlink'] as const;

const absolute = (what: string) =>
  z.string().refine((value) => value.startsWith('/'), `${what} must be an absolute path`);

/** The schema of {@link LinkOptions}. */
export const linkOptionsSchema = z.strictObject({
  workdir: absolute('workdir').describe('the directory relative cache paths are linked into'),
  instanceRoot: absolute('instanceRoot')
    .default('/')
    .describe('the directory absolute cache paths are linked under'),
  os: z
    .literal(CACHE_OS)
    .default(() => (process.platform === 'darwin' ? 'macos' : 'linux'))
    .describe('whose path rules apply: linux or macos'),
  method: z
    .literal(LINK_METHODS)
    .default('auto')
    .describe('auto (bind mount when permitted, else symlink), bind or symlink'),
  replace: z
    .boolean()
    .default(false)
    .describe('move a file or non-empty directory in the way aside instead of skipping the path'),
  strict: z.boolean().default(false).describe('throw when a path cannot be linked, instead of skipping it'),
  heldByProcess: z
    .boolean()
    .default(false)
    .describe('the links live only as long as this process (a job runner that finishes the fork itself)'),
});

/**
 * Options for `ForkHandle.link`.
 *
 * - `workdir`: the job's working directory (absolute); relative cache paths are linked into it.
 * - `instanceRoot` (default `"/"`): absolute cache paths are linked under it.
 * - `os` (default: this machine's): `linux` or `macos` path rules.
 * - `method` (default `"auto"`): `auto` bind-mounts on Linux when the process may (root or
 *   CAP_SYS_ADMIN) and falls back to a symlink; `bind` or `symlink` force one.
 * - `replace` (default `false`): move a file or non-empty directory in the way to
 *   `<path>.cachevol-replaced-<time>` (reported in `movedTo`) instead of skipping the path.
 * - `strict` (default `false`): throw when a path cannot be linked. By default the path is
 *   skipped (`action: "skipped"`, with the `problem`), so the job runs with that path uncached;
 *   a path linked by another live fork is always refused (`CONFLICT`).
 * - `heldByProcess` (default `false`): this process holds the links until it ends the fork
 *   (`cachevol run` does). When it dies without ending the fork (`kill -9`, a crashed runner),
 *   the next job on this host that links the same path takes the links over at once instead of
 *   being refused until the fork's lease runs out. Leave it off when another process ends the
 *   fork (`cachevol attach`, then `cachevol finish`).
 */
export type LinkOptions = z.input<typeof linkOptionsSchema>;

/** What `ForkHandle.link` did for one cache path. */
export interface LinkResult {
  /** The cache path as given. */
  path: string;
  /** Where the link is (absolute). */
  linkPath: string;
  /** The fork's directory shown there (absolute). */
  target: string;
  /** The directory the link stays inside: the working directory or the instance root. */
  within: string;
  /** How it is linked; `null` when skipped. */
  method: LinkMethod | null;
  /**
   * - `created`: nothing was there (or an empty directory);
   * - `unchanged`: this fork was already linked there;
   * - `relinked`: a link or mount of an ended fork (a crashed job's), or a dangling link, was
   *   removed first;
   * - `moved-aside`: something else was there and `replace` moved it to `movedTo`;
   * - `skipped`: not linked, see `problem` (the path runs uncached).
   */
  action: 'created' | 'unchanged' | 'relinked' | 'moved-aside' | 'skipped';
  /** Where the replaced path went, for `moved-aside`. */
  movedTo?: string;
  /**
   * Components of the fork's sub-directory that were symlinks or files in the fork's data and
   * were replaced by empty directories (nothing is ever followed out of a fork).
   */
  repaired: string[];
  /** Why the path was skipped, or why a bind mount fell back to a symlink. */
  problem?: string;
}

/** What undoing one link did (at `unlink`, `commit`, `finish`, `abandon`). */
export interface UnlinkResult {
  /** Where the link was. */
  linkPath: string;
  /** How it was linked. */
  method: LinkMethod;
  /**
   * - `unmounted`: the bind mount was removed;
   * - `removed`: the symlink was removed;
   * - `captured`: the tool had replaced the symlink by a real directory, which was moved into
   *   the fork (`capturedBy`), so the commit holds what the tool wrote;
   * - `left`: something else is there now, left as it is (a replaced directory when the fork is
   *   not committed, see `problem`);
   * - `gone`: nothing was there any more.
   */
  action: 'unmounted' | 'removed' | 'captured' | 'left' | 'gone';
  /** For `captured`: `rename` (same filesystem) or `copy` (then the original was removed). */
  capturedBy?: 'rename' | 'copy';
  /** What went wrong or what was left, in words. */
  problem?: string;
}
