import type { z } from 'zod';
import type { YamlPathSegment } from '../problems.js';

/** A problem found by a schema, before it is placed in the document. */
export interface RawProblem {
  segments: YamlPathSegment[];
  message: string;
}

type Issue = z.core.$ZodIssue;

/** True when a union branch failed only because the value has another type altogether. */
function wrongType(branch: readonly Issue[]): boolean {
  return branch.some((issue) => issue.code === 'invalid_type' && issue.path.length === 0);
}

/**
 * Turns zod issues into one problem per place. A failed union reports the problems of the one
 * branch whose type matched the value (a list gets the list's problems, not "invalid input");
 * when no branch matched, it reports the union's own message. Unknown keys get one problem each.
 *
 * @param issues - what `safeParse` returned
 * @param base - where the parsed value sits in the document
 */
export function problemsFromIssues(issues: readonly Issue[], base: readonly YamlPathSegment[]): RawProblem[] {
  const problems: RawProblem[] = [];
  for (const issue of issues) {
    const segments = [...base, ...issue.path.map((key) => (typeof key === 'number' ? key : String(key)))];
    if (issue.code === 'invalid_union') {
      const matching = issue.errors.filter((branch) => !wrongType(branch));
      const [only] = matching;
      if (matching.length === 1 && only) {
        problems.push(...problemsFromIssues(only, segments));
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ segments: [...segments, key], message: issue.message });
      continue;
    }
    problems.push({ segments, message: issue.message });
  }
  return problems;
}
