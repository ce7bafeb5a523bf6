import { isAbsolute, resolve } from 'node:path';
import { parseOptions } from '@cachevol/core';
import { z } from 'zod';
import { datasetNameProblem } from './internal/dataset-name.js';

/** The schema of {@link ZfsBackendOptions}: the single source of truth for the options. */
export const zfsBackendOptionsSchema = z
  .object({
    /** An existing ZFS filesystem; cachevol keeps its datasets under it. */
    dataset: z
      .string()
      .superRefine((value, context) => {
        const problem = datasetNameProblem(value);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .describe(
        'an existing ZFS filesystem (such as `tank/cachevol`); cachevol keeps its datasets under it and touches nothing else',
      ),
    /** Directory under which forks are mounted; by default `<mountpoint of dataset>/forks`. */
    mountRoot: z
      .string()
      .min(1)
      .refine((value) => isAbsolute(value), 'must be an absolute path')
      .transform((value) => resolve(value))
      .optional()
      .describe(
        'directory under which forks are mounted (`<mountRoot>/<fork id>`); by default they are mounted under `<mountpoint of dataset>/forks`',
      ),
    /** The `zfs` program. */
    zfsPath: z
      .string()
      .min(1)
      .default('zfs')
      .describe('the `zfs` program: a name on PATH or an absolute path'),
  })
  .strict();

/**
 * Options for `createZfsBackend`.
 *
 * - `dataset` (required): an existing ZFS filesystem such as `tank/cachevol`. cachevol creates
 *   `forks` and `versions` under it and touches nothing else.
 * - `mountRoot` (optional): an absolute directory under which forks are mounted, as
 *   `<mountRoot>/<fork id>`. Without it forks are mounted under `<mountpoint of dataset>/forks`,
 *   so the dataset then needs a real mountpoint (not `none` or `legacy`).
 * - `zfsPath` (default `"zfs"`): the `zfs` program.
 */
export type ZfsBackendOptions = z.input<typeof zfsBackendOptionsSchema>;

/** Options after parsing: defaults applied, `mountRoot` normalised. */
export type ZfsSettings = z.output<typeof zfsBackendOptionsSchema>;

/**
 * Parses the options, turning every problem into one `INVALID_ARGUMENT` error that names each
 * option.
 *
 * @param input - what the caller passed
 * @throws `CacheVolumeError` `INVALID_ARGUMENT`
 */
export function parseZfsBackendOptions(input: unknown): ZfsSettings {
  return parseOptions(zfsBackendOptionsSchema, input, 'ZFS backend options');
}
