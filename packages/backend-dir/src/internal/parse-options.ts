import { CacheVolumeError } from '@cachevol/core';
import type { z } from 'zod';

/**
 * Parses options with a zod schema; every problem becomes one `INVALID_ARGUMENT` error naming
 * the option, what was given and what is expected.
 *
 * @param schema - the options schema
 * @param input - what the caller passed
 * @param what - what the options are for, e.g. `createDirBackend options`
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`,
  );
  throw new CacheVolumeError('INVALID_ARGUMENT', `Invalid ${what}: ${problems.join('; ')}.`, {
    details: { issues: parsed.error.issues },
  });
}
