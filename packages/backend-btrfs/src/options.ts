import { isAbsolute, resolve } from 'node:path';
import { parseOptions } from '@cachevol/core';
import { z } from 'zod';

/** The schema of {@link BtrfsBackendOptions}: the single source of truth for the options. */
export const btrfsBackendOptionsSchema = z
  .object({
    /** An existing, absolute directory on btrfs; cachevol keeps its subvolumes under it. */
    root: z
      .string()
      .min(1)
      .refine((value) => isAbsolute(value), 'must be an absolute path')
      .transform((value) => resolve(value))
      .describe('an existing directory on a btrfs filesystem; cachevol keeps its subvolumes under it'),
    /** Enforce fork capacity with qgroup limits (turns btrfs quotas on). */
    quota: z
      .boolean()
      .default(true)
      .describe('enforce fork capacity with qgroup limits (turns btrfs quotas on; they cost write speed)'),
    /** The `btrfs` program. */
    btrfs: z
      .string()
      .min(1)
      .default('btrfs')
      .describe('the btrfs program: a name on PATH or an absolute path'),
  })
  .strict();

/**
 * Options for `createBtrfsBackend`.
 *
 * - `root` (required): an existing, absolute directory on a btrfs filesystem (a subvolume or
 *   a plain directory in one). cachevol creates `forks/` and `versions/` under it.
 * - `quota` (default `true`): enforce each fork's capacity with a qgroup limit. Turns btrfs
 *   quotas on for the whole filesystem; quotas cost write speed, so turn this off when
 *   capacity need not be enforced (usage is then measured with `btrfs filesystem du`).
 * - `btrfs` (default `"btrfs"`): the `btrfs` program.
 */
export type BtrfsBackendOptions = z.input<typeof btrfsBackendOptionsSchema>;

/** Options after parsing: defaults applied, root normalised. */
export type BtrfsSettings = z.output<typeof btrfsBackendOptionsSchema>;

/**
 * Parses the options, turning every problem into one `INVALID_ARGUMENT` error that names each
 * option.
 *
 * @param input - what the caller passed
 */
export function parseBtrfsBackendOptions(input: unknown): BtrfsSettings {
  return parseOptions(btrfsBackendOptionsSchema, input, 'btrfs backend options');
}
