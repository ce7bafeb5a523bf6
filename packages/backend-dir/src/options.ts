import { z } from 'zod';

/** How forks copy file data. */
export const REFLINK_MODES = ['auto', 'always', 'never'] as const;

/**
 * How forks copy file data:
 * - `auto`: clone (reflink) when the filesystem under the root supports it, else copy bytes.
 * - `always`: clone or fail: the factory throws `BACKEND_UNAVAILABLE` when the filesystem
 *   cannot clone (btrfs, XFS with reflink, APFS can).
 * - `never`: always copy bytes.
 */
export type ReflinkMode = (typeof REFLINK_MODES)[number];

/** The schema of {@link DirBackendOptions}: the single source of truth for the options. */
export const dirBackendOptionsSchema = z
  .object({
    root: z.string().min(1).describe('directory that holds every version and fork (created if missing)'),
    reflink: z.literal(REFLINK_MODES).default('auto').describe('clone file data: auto, always or never'),
  })
  .strict();

/**
 * Options for `createDirBackend`.
 *
 * - `root` (required): the directory holding `versions/`, `forks/`, `tmp/` and `trash/`; created
 *   if missing. Relative paths are resolved against the current directory.
 * - `reflink` (default `"auto"`): see {@link ReflinkMode}.
 */
export type DirBackendOptions = z.input<typeof dirBackendOptionsSchema>;
