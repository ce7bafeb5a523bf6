import type { z } from 'zod';
import { CacheVolumeError } from './errors.js';

/**
 * Parses options with a zod schema (the single source of truth for a factory's options),
 * turning every problem into one `INVALID_ARGUMENT` error that names each option path, what was
 * given and what is expected.
 *
 * @param schema - the schema (the single source of truth for the options)
 * @param input - what the caller passed
 * @param what - what the options are for, e.g. `attach options`
 * @returns the parsed options, with defaults filled in
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` listing every problem
 *
 * @example
 * ```ts
 * const options = parseOptions(myBackendOptionsSchema, input, 'createMyBackend options')
 * ```
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  throw new CacheVolumeError('INVALID_ARGUMENT', `Invalid ${what}: ${problems.join('; ')}.`, {
    details: { issues: parsed.error.issues },
  });
}
