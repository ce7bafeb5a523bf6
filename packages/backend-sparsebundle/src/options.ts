import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { CommandRunner, createProcessRunner } from './command-runner.js';
import { reservedPathProblem } from './internal/reserved-paths.js';

/** The schema of {@link SparseBundleBackendOptions}: the single source of truth for the options. */
export const sparseBundleBackendOptionsSchema = z
  .object({
    /** Absolute directory on an APFS volume holding the bundles and their mount points. */
    root: z
      .string()
      .min(1)
      .refine((p) => isAbsolute(p) && !p.includes('\u0000'), 'must be an absolute path')
      .superRefine((path, context) => {
        const problem = reservedPathProblem(path);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .describe('absolute directory on an APFS volume holding the bundles and their mount points'),
    /** APFS volume names are `<prefix>-<fork id>`. @defaultValue `"cachevol"` */
    volumeNamePrefix: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'use 1 to 32 letters, digits, "_" or "-"')
      .default('cachevol')
      .describe('APFS volume names are "<prefix>-<fork id>"'),
    /** Let Spotlight index fork volumes (off: `-nospotlight`). @defaultValue `false` */
    spotlight: z.boolean().default(false).describe('let Spotlight index fork volumes (off: -nospotlight)'),
    /** Plain `hdiutil detach` (and attach) tries while busy, before `-force` and diskutil. @defaultValue `5` */
    detachAttempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(5)
      .describe('plain hdiutil detach (and attach) tries while busy, before -force and diskutil'),
    /** Pause after a busy try, in milliseconds. @defaultValue `1000` */
    retryDelayMs: z.number().int().min(0).max(60_000).default(1000).describe('pause after a busy try'),
    /** Kill a command running longer than this many milliseconds (default runner only). @defaultValue `600000` */
    commandTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(600_000)
      .describe('kill a command running longer than this (default runner only)'),
    /** Runs hdiutil, diskutil, cp and sync; replace it in tests. @defaultValue {@link createProcessRunner} */
    runner: z
      .custom<CommandRunner>((value) => typeof value === 'function', {
        message: 'must be a function (command, args) => Promise<{ exitCode, stdout, stderr }>',
      })
      .optional()
      .describe('runs hdiutil, diskutil, cp and sync; replace it in tests'),
  })
  .strict();

/**
 * Options for `createSparseBundleBackend`.
 *
 * - `root` (required): an absolute directory on an APFS volume; bundles, clones and mount points
 *   all live under it (clones only work within one volume). Reserved macOS paths (`/tmp`,
 *   `/private`, `/var`, … themselves, in any spelling) are refused; sub-paths are fine.
 * - `volumeNamePrefix` (default `"cachevol"`): volume names are `<prefix>-<fork id>`.
 * - `spotlight` (default `false`): let Spotlight index fork volumes.
 * - `detachAttempts` (default `5`): plain detach/attach tries while "Resource busy".
 * - `retryDelayMs` (default `1000`): the pause between those tries.
 * - `commandTimeoutMs` (default `600000`): kill a command that runs longer (default runner).
 * - `runner`: replaces the execa runner (tests use a simulator); without it the factory needs
 *   macOS.
 */
export type SparseBundleBackendOptions = z.input<typeof sparseBundleBackendOptionsSchema>;
