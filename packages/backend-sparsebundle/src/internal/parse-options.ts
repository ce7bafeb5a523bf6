import { CacheVolumeError } from '@cachevol/core';
import type { z } from 'zod';

/**
 * Parses options with their zod schema, turning every problem into one `INVALID_ARGUMENT` error
 * that names each option, so `root: "/tmp" is /tmp, a path macOS reserves…` reads on its own.
 *
 * @param schema - the options schema
 * @param input - what the caller passed
 * @param what - what the options are for
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(options)'}: ${issue.message}`,
  );
  throw new CacheVolumeError('INVALID_ARGUMENT', `Invalid ${what}: ${problems.join('; ')}.`, {
    details: { issues: parsed.error.issues },
  });
}
