import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CacheOs, type ConfigProblem, isCacheVolumeError, parsePipeline } from '../../src/index.js';

/** Parses and returns the error thrown, failing the test when nothing is thrown. */
function failure(input: unknown, os: CacheOs = 'linux'): { message: string; problems: ConfigProblem[] } {
  try {
    parsePipeline(input, { pipelineSlug: 'my-pipeline', os });
  } catch (error) {
    if (!isCacheVolumeError(error, 'INVALID_ARGUMENT')) throw error;
    return { message: error.message, problems: error.details.problems as ConfigProblem[] };
  }
  throw new Error('expected parsePipeline to throw');
}

/** The single problem of a failed parse. */
function onlyProblem(input: unknown, os: CacheOs = 'linux'): ConfigProblem {
  const { problems } = failure(input, os);
  expect(problems).toHaveLength(1);
  return problems[0] as ConfigProblem;
}

const step = (cache: unknown) => ({ steps: [{ command: 'make', cache }] });

describe('clear errors for invalid configs', () => {
  it('wrong types: names the YAML path, the value and the allowed forms', () => {
    expect(onlyProblem(step(5))).toEqual({
      path: 'steps[0].cache',
      message: 'Expected a path string, a list of path strings, or { paths, name?, size? }, got 5.',
    });
    expect(onlyProblem(step(['a', 2]))).toMatchObject({
      path: 'steps[0].cache[1]',
      message: expect.stringMatching(/path string.*got 2/),
    });
    expect(onlyProblem(step({ paths: { a: 1 } }))).toMatchObject({
      path: 'steps[0].cache.paths',
      message: 'Expected a path string or a list of path strings, got {"a":1}.',
    });
    expect(onlyProblem(step({ name: 'x' }))).toMatchObject({
      path: 'steps[0].cache.paths',
      message: expect.stringMatching(/^Missing/),
    });
    expect(onlyProblem(step({ paths: 'a', name: 3 }))).toMatchObject({
      path: 'steps[0].cache.name',
      message: expect.stringMatching(/got 3/),
    });
    expect(onlyProblem({ cache: 7, steps: [] })).toMatchObject({
      path: 'cache',
      message: expect.stringMatching(/got 7/),
    });
    expect(onlyProblem({ steps: 'make' })).toMatchObject({
      path: 'steps',
      message: 'Expected a list of steps, got "make".',
    });
    expect(onlyProblem({ cache: 'a' })).toMatchObject({
      path: 'steps',
      message: expect.stringMatching(/^Missing/),
    });
    expect(onlyProblem('just text')).toMatchObject({
      path: '(root)',
      message: expect.stringMatching(/got "just text"/),
    });
    expect(onlyProblem({ steps: [{ command: 7 }] })).toMatchObject({ path: 'steps[0].command' });
  });

  it('unknown keys: not an error, one warning per key, listing the allowed ones', () => {
    const { warnings, steps } = parsePipeline(
      'steps:\n  - command: make\n    cache: { paths: a, sise: 20g, Name: x }\n',
      { pipelineSlug: 'my-pipeline', os: 'linux' },
    );
    const message = 'Unknown key, ignored: the keys of a cache are "paths", "name", "size" and "fallbacks".';
    expect(warnings).toEqual([
      { path: 'steps[0].cache.sise', message, line: 3, column: 30 },
      { path: 'steps[0].cache.Name', message, line: 3, column: 41 },
    ]);
    expect(steps[0]?.volumes).toEqual([
      expect.objectContaining({ name: 'my-pipeline', paths: ['a'], size: '20g' }),
    ]);
  });

  it.each([
    ['20', /Invalid size "20": write whole gigabytes as "Ng"/],
    ['20gb', /Invalid size "20gb"/],
    ['-1g', /Invalid size "-1g"/],
    ['0g', /Invalid size "0g"/],
    ['19g', /Invalid size "19g": sizes must be between 20g and/],
    ['1.5g', /Invalid size "1.5g"/],
    [20, /Expected a size .*"20g".*got 20\./],
  ])('bad size %j', (size, message) => {
    const problem = onlyProblem(
      `cache:\n  paths: a\n  size: ${typeof size === 'string' ? `"${size}"` : size}\nsteps: []\n`,
    );
    expect(problem).toMatchObject({
      path: 'cache.size',
      message: expect.stringMatching(message),
      line: 3,
      column: 9,
    });
  });

  it('reserved macOS paths: /tmp and /private in any spelling, but not their sub-paths', () => {
    const spellings = [
      '/tmp',
      '/tmp/',
      '/tmp/.',
      '//tmp',
      '/tmp/x/..',
      '/private',
      '/private/',
      '/TMP',
      '/private/tmp',
    ];
    const { problems } = failure(step(spellings), 'macos');
    expect(problems.map((p) => p.path)).toEqual(spellings.map((_, i) => `steps[0].cache[${i}]`));
    for (const problem of problems) expect(problem.message).toMatch(/is reserved on macOS.*use a sub-path/);
    const fine = parsePipeline(step(['/tmp/volume', '/private/cache', 'tmp']), {
      pipelineSlug: 'p',
      os: 'macos',
    });
    expect(fine.steps[0]?.volumes[0]?.paths).toEqual(['/tmp/volume', '/private/cache', 'tmp']);
    expect(
      parsePipeline(step('/tmp'), { pipelineSlug: 'p', os: 'linux' }).steps[0]?.volumes[0]?.paths,
    ).toEqual(['/tmp']);
  });

  it('empty paths, and paths naming a root itself', () => {
    expect(onlyProblem(step(''))).toMatchObject({
      path: 'steps[0].cache',
      message: expect.stringMatching(/may not be empty/),
    });
    expect(onlyProblem(step({ paths: [] }))).toMatchObject({
      path: 'steps[0].cache.paths',
      message: expect.stringMatching(/empty/),
    });
    expect(onlyProblem(step('./'))).toMatchObject({
      message: expect.stringMatching(/working directory itself/),
    });
    expect(onlyProblem(step('//'))).toMatchObject({ message: expect.stringMatching(/instance root itself/) });
  });

  it('traversal out of the working directory or the instance root', () => {
    const { problems } = failure(step(['..', '../x', 'a/../../x', '/..', '/../etc', '/a/../../b']));
    expect(problems.map((p) => p.path)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `steps[0].cache[${i}]`));
    expect(
      problems.slice(0, 3).every((p) => /climbs out of the step's working directory/.test(p.message)),
    ).toBe(true);
    expect(problems.slice(3).every((p) => /climbs out of the instance root/.test(p.message))).toBe(true);
  });

  it('a path claimed by two volumes of one step', () => {
    const problem = onlyProblem({
      cache: 'node_modules',
      steps: [{ command: 'x', cache: { name: 'other', paths: 'node_modules/.cache' } }],
    });
    expect(problem).toEqual({
      path: 'steps[0].cache.paths',
      message:
        'Path "node_modules/.cache" overlaps "node_modules" of volume "my-pipeline"; a directory can belong to one volume only.',
    });
  });

  it('cache on steps that run no command', () => {
    expect(onlyProblem({ steps: [{ block: 'ok?', cache: 'a' }] })).toMatchObject({ path: 'steps[0].cache' });
    expect(onlyProblem({ steps: [{ group: 'g', cache: 'a', steps: [] }] })).toMatchObject({
      path: 'steps[0].cache',
    });
    expect(onlyProblem({ steps: ['make'] })).toMatchObject({
      path: 'steps[0]',
      message: expect.stringMatching(/"wait"/),
    });
  });

  it('YAML syntax errors, all of them, with line numbers', () => {
    const { message, problems } = failure('cache: [a\nsteps:\n  - command: x\n    command: y\n');
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.every((p) => p.path === '(syntax)' && typeof p.line === 'number')).toBe(true);
    expect(problems.find((p) => p.message.includes('DUPLICATE_KEY'))).toMatchObject({ line: 4, column: 5 });
    expect(message).toMatch(
      /^Invalid cache configuration in pipeline\.yml \(\d+ problems\):\n- \(syntax\) \(line \d+, column \d+\): /,
    );
  });

  it('reports every problem in a file at once, in document order, one line each', () => {
    const text = `cache:
  paths: [node_modules, ""]
  size: 19g
steps:
  - command: build
    cache: { paths: "../out", size: 30 }
  - wait
  - group: tests
    steps:
      - command: test
        cache: { name: "bad name", paths: /tmp, size: 20 }
`;
    let caught: unknown;
    try {
      parsePipeline(text, { pipelineSlug: 'my-pipeline', os: 'macos', filename: '.buildkite/pipeline.yml' });
    } catch (error) {
      caught = error;
    }
    expect(isCacheVolumeError(caught, 'INVALID_ARGUMENT')).toBe(true);
    const error = caught as Error & { details: { problems: ConfigProblem[] } };
    expect(error.details.problems.map(({ path, line }) => [path, line])).toEqual([
      ['cache.paths[1]', 2],
      ['cache.size', 3],
      ['steps[0].cache.paths', 6],
      ['steps[0].cache.size', 6],
      ['steps[2].steps[0].cache.paths', 11],
      ['steps[2].steps[0].cache.name', 11],
      ['steps[2].steps[0].cache.size', 11],
    ]);
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid cache configuration in .buildkite/pipeline.yml (7 problems):');
    expect(lines).toHaveLength(8);
    expect(lines[2]).toBe(
      '- cache.size (line 3, column 9): Invalid size "19g": sizes must be between 20g and 1048576g.',
    );
  });

  it('gives the message docs/pipeline-config.md shows', () => {
    const doc = readFileSync(new URL('../../../../docs/pipeline-config.md', import.meta.url), 'utf8');
    const example =
      /For this pipeline\.yml, read with `os: 'macos'`:\n\n```yaml\n([^`]*)```\n\nthe error message is:\n\n```text\n([^`]*)\n```/.exec(
        doc,
      );
    expect(example).not.toBeNull();
    expect(failure(example?.[1], 'macos').message.replace('my-pipeline', 'web')).toBe(example?.[2]);
  });
});
