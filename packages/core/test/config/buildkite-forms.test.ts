// biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline.yml values spell ${VAR} literally
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ConfigProblem,
  GIB,
  interpolateVariables,
  isCacheVolumeError,
  type ParsePipelineOptions,
  parsePipeline,
} from '../../src/index.js';

const linux = { pipelineSlug: 'my-pipeline', os: 'linux' } as const;

/** The problems of a failed parse, failing the test when nothing is thrown. */
function problems(input: unknown, options: Partial<ParsePipelineOptions> = {}): ConfigProblem[] {
  try {
    parsePipeline(input, { ...linux, ...options });
  } catch (error) {
    if (!isCacheVolumeError(error, 'INVALID_ARGUMENT')) throw error;
    return error.details.problems as ConfigProblem[];
  }
  throw new Error('expected parsePipeline to throw');
}

const volume = (name: string, paths: string[], size = '20g') => ({
  name,
  paths,
  size,
  sizeBytes: Number.parseInt(size, 10) * GIB,
});

describe('a pipeline as Buildkite users write it (fixture)', () => {
  const text = readFileSync(new URL('./fixtures/buildkite-monorepo.yml', import.meta.url), 'utf8');
  const parsed = () =>
    parsePipeline(text, {
      pipelineSlug: 'monorepo',
      os: 'linux',
      env: { BUILDKITE_PIPELINE_SLUG: 'monorepo', HOME: '/home/agent' },
    });
  const deps = volume('monorepo-deps', ['/home/agent/.cache/pip', 'node_modules'], '40g');

  it('substitutes the name from the environment and the size from the pipeline env, expands ~', () => {
    expect(parsed().defaultVolume).toEqual(deps);
    expect(parsed().warnings).toEqual([]);
  });

  it('lists every command step: plugins, the expanded matrix, the nested form; cache: false has none', () => {
    const steps = parsed().steps;
    expect(steps.map((s) => [s.index, s.path, s.key ?? null, s.label ?? null])).toEqual([
      [0, 'steps[0]', 'deps', ':pip: install'],
      [1, 'steps[2].steps[0]', null, 'pytest 3.11 on linux'],
      [2, 'steps[2].steps[0]', null, 'pytest 3.12 on linux'],
      [3, 'steps[2].steps[0]', null, 'pytest 3.12 on macos'],
      [4, 'steps[2].steps[0]', null, 'pytest 3.13 on linux'],
      [5, 'steps[2].steps[1].command', null, 'lint'],
      [6, 'steps[4]', null, ':docker: publish'],
    ]);
    expect(steps[0]?.volumes).toEqual([deps]);
    expect(steps[3]).toMatchObject({
      matrix: { os: 'macos', python: '3.12' },
      commands: ['pyenv local 3.12', 'pytest -n auto'],
      group: { path: 'steps[2]', key: 'tests', label: ':test_tube: tests' },
      volumes: [deps, volume('pytest-macos', ['.pytest_cache/3.12'])],
    });
    expect(steps[5]?.volumes).toEqual([deps, volume('monorepo', ['/home/agent/.cache/ruff'])]);
    expect(steps[5]?.commands).toEqual(['ruff check .']);
    expect(steps[6]?.volumes).toEqual([]);
  });
});

describe('~ in cache paths', () => {
  it('expands ~ and ~/x to the home directory, from the home option or else env.HOME', () => {
    const doc = { cache: ['~/.cache/pip', '~/.npm/'], steps: [{ command: 'x', cache: '~/go' }] };
    expect(parsePipeline(doc, { ...linux, home: '/home/a' }).steps[0]?.volumes).toEqual([
      volume('my-pipeline', ['/home/a/.cache/pip', '/home/a/.npm', '/home/a/go']),
    ]);
    expect(
      parsePipeline({ steps: [{ command: 'x', cache: '~' }] }, { ...linux, home: '/home/a' }).steps[0]
        ?.volumes,
    ).toEqual([volume('my-pipeline', ['/home/a'])]);
    expect(parsePipeline(doc, { ...linux, env: { HOME: '/root/' } }).defaultVolume?.paths).toEqual([
      '/root/.cache/pip',
      '/root/.npm',
    ]);
    expect(parsePipeline(doc, { ...linux, home: '/h', env: { HOME: '/root' } }).defaultVolume?.paths).toEqual(
      ['/h/.cache/pip', '/h/.npm'],
    );
  });

  it('is an error without a home directory, and ~user stays refused', () => {
    expect(problems({ steps: [{ command: 'x', cache: ['a', '~/.cache'] }] })).toEqual([
      {
        path: 'steps[0].cache[1]',
        message:
          'Invalid cache path "~/.cache": "~" needs a home directory, and none is known (HOME is not set).',
      },
    ]);
    expect(problems({ steps: [{ command: 'x', cache: '~bob/.cache' }] }, { home: '/h' })).toEqual([
      {
        path: 'steps[0].cache',
        message:
          'Invalid cache path "~bob/.cache": "~bob" (another user\'s home) is not expanded; write an absolute path.',
      },
    ]);
  });

  it('applies the path rules after expanding (a home of / cannot be a cache path)', () => {
    expect(problems({ steps: [{ command: 'x', cache: '~' }] }, { home: '/' })[0]?.message).toMatch(
      /names the instance root itself/,
    );
    expect(() => parsePipeline({ steps: [] }, { ...linux, home: 'relative' })).toThrow(
      /home must be an absolute path/,
    );
  });
});

describe('environment variables in cache values', () => {
  const env = { TOOL: 'node', VERSION: '20', EMPTY: '', SIZE: '50g', BRANCH: 'feature/x' };

  it('substitutes $VAR, ${VAR}, defaults and $$ in paths, names and sizes before checking them', () => {
    const doc = {
      steps: [
        {
          command: 'x',
          cache: {
            name: '${TOOL}-$VERSION',
            size: '${SIZE}',
            paths: ['.cache/$TOOL', '${UNSET:-fallback}/${EMPTY:-e}', '${EMPTY-kept}x', 'price$$', 'a\\$b'],
          },
        },
      ],
    };
    expect(parsePipeline(doc, { ...linux, env }).steps[0]?.volumes).toEqual([
      volume('node-20', ['.cache/node', 'fallback/e', 'x', 'price$', 'a$b'], '50g'),
    ]);
  });

  it('reads the pipeline env block, without overriding the environment', () => {
    const text = 'env:\n  TOOL: yarn\n  DIR: ".${TOOL}"\nsteps:\n  - command: x\n    cache: "$DIR/$TOOL"\n';
    expect(parsePipeline(text, linux).steps[0]?.volumes[0]?.paths).toEqual(['.yarn/yarn']);
    expect(parsePipeline(text, { ...linux, env: { TOOL: 'npm' } }).steps[0]?.volumes[0]?.paths).toEqual([
      '.npm/npm',
    ]);
  });

  it('is an error, naming the variable and the place, when a variable is unset', () => {
    const text =
      'steps:\n  - command: x\n    cache:\n      paths: [a, "$CACHE_DIR/x"]\n      size: "${SIZE:?give a size}"\n';
    expect(problems(text)).toEqual([
      {
        path: 'steps[0].cache.paths[1]',
        message:
          'Cannot substitute variables in "$CACHE_DIR/x": the variable CACHE_DIR is not set (give a default with ${CACHE_DIR:-default}, or write "$$" for a literal "$").',
        line: 4,
        column: 18,
      },
      {
        path: 'steps[0].cache.size',
        message: 'Cannot substitute variables in "${SIZE:?give a size}": SIZE: give a size',
        line: 5,
        column: 13,
      },
    ]);
  });

  it('checks the substituted values: a bad size or name from a variable is reported as such', () => {
    const found = problems(
      { cache: { paths: 'a', size: '$SIZE', name: '$BRANCH' }, steps: [] },
      { env: { SIZE: '5g', BRANCH: 'feature x' } },
    );
    expect(found.map((p) => p.path)).toEqual(['cache.name', 'cache.size']);
    expect(found[1]?.message).toMatch(/^Invalid size "5g"/);
  });
});

describe('interpolateVariables', () => {
  const env = { A: 'abcdef', E: '', N: 'x' };
  it.each([
    ['plain', 'plain'],
    ['$A/${A}', 'abcdef/abcdef'],
    ['${A:2}', 'cdef'],
    ['${A:1:3}', 'bcd'],
    ['${A: -2}', 'ef'],
    ['${MISSING:-${N:-y}}', 'x'],
    ['${E:-d}|${E-d}', 'd|'],
    ['$$A \\$A $(pwd) end$', '$A $A $(pwd) end$'],
    ['${E:?}x', null],
    ['$1', null],
    ['${A', null],
    ['${A%x}', null],
  ])('%j', (text, expected) => {
    if (expected === null)
      expect(() => interpolateVariables(text, env)).toThrow(/Cannot substitute variables/);
    else expect(interpolateVariables(text, env)).toBe(expected);
  });
});

describe('glob patterns', () => {
  it.each(['node_modules/**', '*.egg-info', 'build?', 'vendor/[ab]', '{a,b}/cache'])(
    'refuses %j, saying why',
    (path) => {
      const [problem] = problems({ steps: [{ command: 'x', cache: path }] });
      expect(problem?.message).toMatch(
        /makes it a glob pattern, and globs are not expanded: a cache path names one directory, kept whole with everything below it; name that directory/,
      );
    },
  );
});

describe('nested command steps', () => {
  it.each([
    ['command', 'steps:\n  - command:\n      command: make\n      cache: out\n'],
    ['commands', 'steps:\n  - commands:\n      commands: [make]\n      cache: out\n'],
    ['script', 'steps:\n  - script:\n      command: make\n      cache: out\n'],
    ['command', 'steps:\n  - { command: { command: make, cache: out } }\n'],
  ])('reads the %s form as a command step', (key, text) => {
    const [step] = parsePipeline(text, linux).steps;
    expect(step).toMatchObject({ path: `steps[0].${key}`, commands: ['make'] });
    expect(step?.volumes).toEqual([volume('my-pipeline', ['out'])]);
  });

  it('places problems inside the nested step', () => {
    expect(problems('steps:\n  - command:\n      command: make\n      cache: ../out\n')).toMatchObject([
      { path: 'steps[0].command.cache', line: 4 },
    ]);
  });
});

describe('cache: false and cache: null', () => {
  it('turn the top-level volume off for that step only', () => {
    const text =
      'cache: node_modules\nsteps:\n  - command: a\n    cache: false\n  - command: b\n    cache: ~\n  - command: c\n';
    const steps = parsePipeline(text, linux).steps;
    expect(steps.map((s) => s.volumes.length)).toEqual([0, 0, 1]);
  });
});

describe('unknown keys of a cache object', () => {
  it('are warnings, returned with the pipeline', () => {
    const parsed = parsePipeline({ cache: { paths: 'a', key: 'v1', restore_keys: ['x'] }, steps: [] }, linux);
    expect(parsed.warnings.map((w) => w.path)).toEqual(['cache.key', 'cache.restore_keys']);
    expect(parsed.defaultVolume?.paths).toEqual(['a']);
  });
});

describe('matrix steps', () => {
  it('expands a list matrix, {{matrix}} in the cache name and paths', () => {
    const doc = {
      steps: [
        {
          command: 'go build',
          matrix: ['darwin', 'linux'],
          cache: { name: 'go-{{ matrix }}', paths: 'out/{{matrix}}' },
        },
      ],
    };
    const steps = parsePipeline(doc, linux).steps;
    expect(steps.map((s) => [s.index, s.matrix, s.volumes])).toEqual([
      [0, { '': 'darwin' }, [volume('go-darwin', ['out/darwin'])]],
      [1, { '': 'linux' }, [volume('go-linux', ['out/linux'])]],
    ]);
  });

  it('applies adjustments to a setup list: skip removes, a new value adds', () => {
    const doc = {
      steps: [
        {
          command: 'x',
          matrix: {
            setup: ['a', 'b', 3],
            adjustments: [{ with: 'b', skip: true }, { with: 'c' }, { with: 3, soft_fail: true }],
          },
        },
      ],
    };
    expect(parsePipeline(doc, linux).steps.map((s) => s.matrix?.[''])).toEqual(['a', '3', 'c']);
  });

  it('reports matrix mistakes with their place', () => {
    const step = (matrix: unknown, cache: unknown = 'c/{{matrix.os}}') => ({
      steps: [{ command: 'x', matrix, cache }],
    });
    expect(problems(step({ setup: { os: ['linux'] } }, 'c/{{matrix.arch}}'))[0]).toMatchObject({
      path: 'steps[0].cache',
      message: expect.stringMatching(/Unknown matrix token \{\{matrix\.arch\}\}.*\{\{matrix\.os\}\}/),
    });
    expect(
      problems(step({ setup: { os: ['linux'] }, adjustments: [{ with: { arch: 'x' } }] }))[0],
    ).toMatchObject({
      path: 'steps[0].matrix.adjustments[0].with.arch',
    });
    expect(problems(step({ setupp: ['a'] })).map((p) => p.path)).toEqual([
      'steps[0].matrix.setupp',
      'steps[0].matrix.setup',
    ]);
    expect(problems(step('linux'))[0]).toMatchObject({ path: 'steps[0].matrix' });
    expect(problems(step({ setup: ['a'], adjustments: [{ with: 'a', skip: true }] }))[0]?.message).toMatch(
      /no combination left/,
    );
    expect(problems({ steps: [{ command: 'x', cache: 'out/{{matrix}}' }] })[0]?.message).toMatch(
      /holds a \{\{matrix\}\} token, but it is not in a step with a matrix/,
    );
  });
});

describe('nested paths (issue 12: refused at plan, as the run would fail)', () => {
  it('refuses a path inside another path of the same cache', () => {
    expect(problems({ steps: [{ command: 'x', cache: ['a', 'b', 'a/b/c'] }] })).toEqual([
      {
        path: 'steps[0].cache[2]',
        message:
          'Path "a/b/c" lies inside "a", another path of the same volume; a path keeps everything below it, so list "a" only.',
      },
    ]);
    // Neighbours that only share a prefix of letters are not nested.
    expect(
      parsePipeline({ steps: [{ command: 'x', cache: ['a', 'a-b', 'ab', 'a.b'] }] }, linux).steps,
    ).toHaveLength(1);
  });

  it('refuses a step path inside (or around) a top-level path of the same volume', () => {
    expect(
      problems({ cache: 'node_modules', steps: [{ command: 'x', cache: 'node_modules/.cache' }] }),
    ).toEqual([
      {
        path: 'steps[0].cache',
        message:
          'Path "node_modules/.cache" lies inside "node_modules", a top-level path of the same volume "my-pipeline"; a path keeps everything below it, so list only the outer one.',
      },
    ]);
    expect(problems({ cache: 'a/b', steps: [{ command: 'x', cache: 'a' }] })[0]?.message).toMatch(
      /^Path "a" contains "a\/b", a top-level path/,
    );
  });

  it('compares without letter case on macOS', () => {
    expect(
      problems({ steps: [{ command: 'x', cache: ['Build', 'build/x'] }] }, { os: 'macos' }),
    ).toHaveLength(1);
    expect(
      parsePipeline({ steps: [{ command: 'x', cache: ['Build', 'build/x'] }] }, linux).steps,
    ).toHaveLength(1);
  });
});

describe('the env option', () => {
  it('takes process.env itself', () => {
    const { HOME } = process.env;
    if (HOME === undefined || !HOME.startsWith('/')) throw new Error('this test needs an absolute HOME');
    const parsed = parsePipeline({ cache: '~/.cache', steps: [] }, { ...linux, env: process.env });
    expect(parsed.defaultVolume?.paths).toEqual([`${HOME.replace(/\/+$/, '')}/.cache`]);
  });
});

describe('warnings of a matrix step', () => {
  it('are given once, not once per combination', () => {
    const doc = { steps: [{ command: 'x', matrix: ['a', 'b'], cache: { paths: 'c/{{matrix}}', ttl: 3 } }] };
    expect(parsePipeline(doc, linux).warnings.map((w) => w.path)).toEqual(['steps[0].cache.ttl']);
  });
});

describe('problems of a matrix step', () => {
  it('are given once, not once per combination', () => {
    const doc = { steps: [{ command: 'x', matrix: ['a', 'b'], cache: ['c/{{matrix}}', 'd/*'] }] };
    expect(problems(doc).map((p) => p.path)).toEqual(['steps[0].cache[1]']);
  });

  it('read variables named like Object properties as variables', () => {
    const doc = {
      env: { constructor: 'c' },
      steps: [{ command: 'x', cache: '$constructor/${toString:-t}' }],
    };
    expect(parsePipeline(doc, linux).steps[0]?.volumes[0]?.paths).toEqual(['c/t']);
  });
});
