import { CacheVolumeError } from '../errors.js';

/**
 * One thing wrong with a pipeline's cache configuration. `parsePipeline` collects every problem
 * in a file and throws them together.
 */
export interface ConfigProblem {
  /**
   * Where the problem is, as a YAML path: `cache.size`, `steps[2].cache.paths[0]`,
   * `steps[1].steps[0]`; `(root)` for the document itself and `(syntax)` for YAML syntax errors.
   */
  path: string;
  /** What is wrong: the value given and what is allowed. One line. */
  message: string;
  /** The 1-based line in the YAML text, when the input was text and the place is known. */
  line?: number;
  /** The 1-based column in the YAML text, when `line` is known. */
  column?: number;
}

/** A key or list index in a YAML path. */
export type YamlPathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Writes a YAML path the way problems show it: keys joined with `.`, list indexes in brackets,
 * odd keys quoted.
 *
 * @param segments - keys and indexes from the document root
 * @returns e.g. `steps[2].cache.size`, or `(root)` for no segments
 *
 * @example
 * ```ts
 * formatYamlPath(['steps', 2, 'cache', 'size']) // 'steps[2].cache.size'
 * ```
 */
export function formatYamlPath(segments: readonly YamlPathSegment[]): string {
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text === '' ? '(root)' : text;
}

/**
 * The error `parsePipeline` throws: `INVALID_ARGUMENT`, a message with one line per problem, and
 * the problems themselves in `details.problems`.
 *
 * @param problems - every problem found, in document order
 * @param filename - the file they are in, for the message
 */
export function configProblemsError(problems: readonly ConfigProblem[], filename: string): CacheVolumeError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((problem) => {
    const where = problem.line === undefined ? '' : ` (line ${problem.line}, column ${problem.column ?? 1})`;
    return `- ${problem.path}${where}: ${problem.message}`;
  });
  return new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid cache configuration in ${filename} (${count}):\n${lines.join('\n')}`,
    {
      details: { filename, problems: problems.map((problem) => ({ ...problem })) },
    },
  );
}
