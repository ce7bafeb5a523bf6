import { describe, expect, it } from 'vitest';
import { cacheVolumeSchema, isCacheVolumeError, parsePipeline } from '../../src/index.js';

/** `fallbacks` in the object form of `cache`: volumes to fork on a miss (restore-keys). */

const options = {
  pipelineSlug: 'app',
  os: 'linux',
  env: { BRANCH: 'feature-x' },
  checksum: (paths: readonly string[]) => `sum${paths.length}`,
} as const;

function problems(yaml: string): { path: string; message: string }[] {
  try {
    parsePipeline(yaml, options);
  } catch (error) {
    if (isCacheVolumeError(error)) return error.details.problems as { path: string; message: string }[];
    throw error;
  }
  throw new Error('expected the pipeline to be refused');
}

describe('cache fallbacks', () => {
  it('reads names and { name, scope }, with variables and name tokens expanded; absent without the key', () => {
    const parsed = parsePipeline(
      `cache:
  name: 'deps-{{ checksum "package-lock.json" }}'
  paths: node_modules
  fallbacks:
    - { name: 'deps-{{ checksum "package-lock.json" }}', scope: main }
    - deps-$BRANCH
steps:
  - command: npm ci
  - command: make
    cache: { paths: out, name: other }
`,
      options,
    );
    expect(parsed.steps[0]?.volumes[0]?.fallbacks).toEqual([
      { name: 'deps-sum1', scope: 'main' },
      { name: 'deps-feature-x' },
    ]);
    expect(parsed.steps[1]?.volumes.map((v) => v.fallbacks)).toEqual([
      [{ name: 'deps-sum1', scope: 'main' }, { name: 'deps-feature-x' }],
      undefined,
    ]);
    expect('fallbacks' in (parsed.steps[1]?.volumes[1] ?? {})).toBe(false);
  });

  it("a step's fallbacks replace the top-level ones for the same volume", () => {
    const parsed = parsePipeline(
      'cache: { paths: a, fallbacks: [base] }\nsteps:\n  - command: x\n    cache: { paths: b, fallbacks: [{ name: other, scope: main }] }\n',
      options,
    );
    expect(parsed.steps[0]?.volumes).toEqual([
      expect.objectContaining({
        name: 'app',
        paths: ['a', 'b'],
        fallbacks: [{ name: 'other', scope: 'main' }],
      }),
    ]);
  });

  it('refuses bad entries with their YAML path', () => {
    const nine = Array.from({ length: 9 }, (_, i) => `v${i}`).join(', ');
    expect(problems(`cache: { paths: a, fallbacks: [${nine}] }\nsteps: [{ command: x }]\n`)).toEqual([
      expect.objectContaining({ path: 'cache.fallbacks', message: 'List at most 8 fallback volumes.' }),
    ]);
    expect(problems('cache: { paths: a, fallbacks: ["../up"] }\nsteps: [{ command: x }]\n')).toEqual([
      expect.objectContaining({
        path: 'cache.fallbacks[0]',
        message: expect.stringMatching(/Invalid volume name/),
      }),
    ]);
    expect(
      problems('cache: { paths: a, fallbacks: [{ name: x, scope: "a b" }] }\nsteps: [{ command: x }]\n'),
    ).toEqual([
      expect.objectContaining({
        path: 'cache.fallbacks[0].scope',
        message: expect.stringMatching(/Invalid scope "a b"/),
      }),
    ]);
    expect(problems('cache: { paths: a, fallbacks: x }\nsteps: [{ command: x }]\n')).toEqual([
      expect.objectContaining({
        path: 'cache.fallbacks',
        message: 'Expected a list of fallback volumes, got "x".',
      }),
    ]);
  });

  it('the strict schema takes fallbacks and refuses unknown keys in them', () => {
    expect(
      cacheVolumeSchema.safeParse({ paths: 'a', fallbacks: ['b', { name: 'c', scope: 'main' }] }).success,
    ).toBe(true);
    const bad = cacheVolumeSchema.safeParse({ paths: 'a', fallbacks: [{ name: 'c', branch: 'main' }] });
    expect(bad.success).toBe(false);
  });
});
