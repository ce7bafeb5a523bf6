import { describe, expect, it } from 'vitest';
import {
  cacheConfigSchema,
  GIB,
  isCacheVolumeError,
  type ParsedPipeline,
  parsePipeline,
  resolveCachePath,
} from '../../src/index.js';

const linux = { pipelineSlug: 'my-pipeline', os: 'linux' } as const;

/** The pipeline.yml example of the product docs (seeds 001 and 002), verbatim. */
const SEED_EXAMPLE = `cache:
  paths:
    - "node_modules"
  size: "100g"

steps:
  - command: "yarn run build"
    cache: ".build"

  - command: "yarn run test"
    cache:
      - ".build"

  - command: "rspec"
    cache:
      paths:
        - "vendor/bundle"
      size: 20g
      name: "bundle-volume"
`;

describe('the product docs example', () => {
  // Parsed inside each test, so the rules it runs count for that test (mutation testing).
  const parsed = () => parsePipeline(SEED_EXAMPLE, linux);

  it('makes the top-level cache the default volume, named after the slug, 100g', () => {
    expect(parsed().defaultVolume).toEqual({
      name: 'my-pipeline',
      paths: ['node_modules'],
      size: '100g',
      sizeBytes: 100 * GIB,
    });
  });

  it('gives the build and test steps the default volume with .build added', () => {
    const [build, test] = parsed().steps;
    for (const step of [build, test]) {
      expect(step?.volumes).toEqual([
        { name: 'my-pipeline', paths: ['node_modules', '.build'], size: '100g', sizeBytes: 100 * GIB },
      ]);
    }
    expect(build?.commands).toEqual(['yarn run build']);
    expect(test?.commands).toEqual(['yarn run test']);
  });

  it('gives the rspec step the default volume plus bundle-volume at 20g', () => {
    const rspec = parsed().steps[2];
    expect(rspec).toMatchObject({ index: 2, path: 'steps[2]', commands: ['rspec'] });
    expect(rspec?.volumes).toEqual([
      { name: 'my-pipeline', paths: ['node_modules'], size: '100g', sizeBytes: 100 * GIB },
      { name: 'bundle-volume', paths: ['vendor/bundle'], size: '20g', sizeBytes: 20 * GIB },
    ]);
  });

  it('links ./node_modules to the volume subdirectory node_modules, as the docs say', () => {
    expect(resolveCachePath('node_modules', { workdir: '/workdir', os: 'linux' })).toEqual({
      path: 'node_modules',
      kind: 'relative',
      linkPath: '/workdir/node_modules',
      subdir: 'node_modules',
    });
  });

  it('reads the same from the parsed object as from the text', () => {
    const object = {
      cache: { paths: ['node_modules'], size: '100g' },
      steps: [
        { command: 'yarn run build', cache: '.build' },
        { command: 'yarn run test', cache: ['.build'] },
        { command: 'rspec', cache: { paths: ['vendor/bundle'], size: '20g', name: 'bundle-volume' } },
      ],
    };
    expect(parsePipeline(object, linux)).toEqual(parsed());
  });
});

describe('merging', () => {
  const volumesOf = (pipeline: ParsedPipeline) => pipeline.steps.map((step) => step.volumes);

  it('gives steps without cache the top-level volume, and no volume without one', () => {
    const withTop = parsePipeline({ cache: 'node_modules', steps: [{ command: 'make' }] }, linux);
    expect(volumesOf(withTop)).toEqual([
      [{ name: 'my-pipeline', paths: ['node_modules'], size: '20g', sizeBytes: 20 * GIB }],
    ]);
    const without = parsePipeline({ steps: [{ command: 'make' }] }, linux);
    expect(without.defaultVolume).toBeNull();
    expect(volumesOf(without)).toEqual([[]]);
  });

  it('lets the step size win on a shared name, smaller or larger', () => {
    const pipeline = parsePipeline(
      {
        cache: { paths: 'a', size: '100g' },
        steps: [
          { command: 'x', cache: { paths: 'b', size: '30g' } },
          { command: 'y', cache: { paths: 'b', size: '200g', name: 'my-pipeline' } },
          { command: 'z', cache: { paths: ['b'] } },
        ],
      },
      linux,
    );
    expect(volumesOf(pipeline).map((volumes) => volumes.map((v) => v.size))).toEqual([
      ['30g'],
      ['200g'],
      ['100g'],
    ]);
  });

  it('joins paths without duplicates, top-level first, in normal spelling', () => {
    const pipeline = parsePipeline(
      { cache: ['./a/', 'b'], steps: [{ command: 'x', cache: ['b', 'c', 'a', 'c//', 'd/./e/../f'] }] },
      linux,
    );
    expect(pipeline.steps[0]?.volumes[0]?.paths).toEqual(['a', 'b', 'c', 'd/f']);
  });

  it('gives a step a second volume for another name, which defaults to 20g', () => {
    const pipeline = parsePipeline(
      { cache: { paths: 'a', size: '50g' }, steps: [{ command: 'x', cache: { name: 'other', paths: 'b' } }] },
      linux,
    );
    expect(pipeline.steps[0]?.volumes).toEqual([
      { name: 'my-pipeline', paths: ['a'], size: '50g', sizeBytes: 50 * GIB },
      { name: 'other', paths: ['b'], size: '20g', sizeBytes: 20 * GIB },
    ]);
  });

  it('names a step volume without name after the slug, even when the top level has a name', () => {
    const pipeline = parsePipeline(
      { cache: { name: 'shared', paths: 'a' }, steps: [{ command: 'x', cache: 'b' }] },
      linux,
    );
    expect(pipeline.steps[0]?.volumes.map((v) => [v.name, v.paths])).toEqual([
      ['shared', ['a']],
      ['my-pipeline', ['b']],
    ]);
  });

  it('accepts names with "/" segments', () => {
    const pipeline = parsePipeline(
      { steps: [{ command: 'x', cache: { name: 'team/deps', paths: 'a' } }] },
      linux,
    );
    expect(pipeline.steps[0]?.volumes[0]?.name).toBe('team/deps');
  });

  it('keeps both spellings on linux but one on macOS, where letter case does not count', () => {
    const config = { cache: ['Build', 'build'], steps: [{ command: 'x' }] };
    expect(parsePipeline(config, linux).defaultVolume?.paths).toEqual(['Build', 'build']);
    expect(parsePipeline(config, { ...linux, os: 'macos' }).defaultVolume?.paths).toEqual(['Build']);
  });

  it('follows YAML anchors and merge keys', () => {
    const text = `
defaults: &cache
  paths: [vendor/bundle]
  size: 40g
steps:
  - command: bundle install
    cache:
      <<: *cache
      name: gems
`;
    expect(parsePipeline(text, linux).steps[0]?.volumes).toEqual([
      { name: 'gems', paths: ['vendor/bundle'], size: '40g', sizeBytes: 40 * GIB },
    ]);
  });
});

describe('steps', () => {
  const text = `
cache: node_modules
steps:
  - wait
  - label: ":hammer: Build"
    key: build
    commands:
      - yarn install
      - yarn build
  - block: "Release?"
  - input: "Details"
    fields: []
  - trigger: deploy
  - wait: ~
  - "waiter"
  - group: ":test_tube: Tests"
    key: tests
    steps:
      - name: unit
        id: unit
        command: yarn test
        cache: .jest
      - plugins:
          - docker#v5: { image: node }
  - type: script
    identifier: lint
    command: yarn lint
`;
  const parsed = () => parsePipeline(text, linux);

  it('passes over wait, block, input and trigger steps, bare or as mappings', () => {
    expect(parsed().steps.map((step) => step.path)).toEqual([
      'steps[1]',
      'steps[7].steps[0]',
      'steps[7].steps[1]',
      'steps[8]',
    ]);
  });

  it('tells each step by index, path, key, label and commands', () => {
    expect(parsed().steps.map(({ volumes: _, ...identity }) => identity)).toEqual([
      {
        index: 0,
        path: 'steps[1]',
        key: 'build',
        label: ':hammer: Build',
        commands: ['yarn install', 'yarn build'],
      },
      {
        index: 1,
        path: 'steps[7].steps[0]',
        key: 'unit',
        label: 'unit',
        commands: ['yarn test'],
        group: { path: 'steps[7]', key: 'tests', label: ':test_tube: Tests' },
      },
      {
        index: 2,
        path: 'steps[7].steps[1]',
        commands: [],
        group: { path: 'steps[7]', key: 'tests', label: ':test_tube: Tests' },
      },
      { index: 3, path: 'steps[8]', key: 'lint', commands: ['yarn lint'] },
    ]);
  });

  it('reads group steps through, merging their steps with the top-level volume', () => {
    expect(parsed().steps[1]?.volumes).toEqual([
      { name: 'my-pipeline', paths: ['node_modules', '.jest'], size: '20g', sizeBytes: 20 * GIB },
    ]);
    expect(parsed().steps[2]?.volumes[0]?.paths).toEqual(['node_modules']);
  });

  it('reads a document that is a bare list of steps', () => {
    const bare = parsePipeline('- command: make\n  cache: out\n- wait\n', linux);
    expect(bare.defaultVolume).toBeNull();
    expect(bare.steps).toEqual([
      {
        index: 0,
        path: 'steps[0]',
        commands: ['make'],
        volumes: [{ name: 'my-pipeline', paths: ['out'], size: '20g', sizeBytes: 20 * GIB }],
      },
    ]);
  });
});

describe('schemas', () => {
  it('accept the three forms of the cache key', () => {
    for (const value of [
      '.volume',
      ['.volume', '/tmp/volume'],
      { paths: '.volume' },
      { paths: ['a'], name: 'n', size: '20g' },
    ]) {
      expect(cacheConfigSchema.safeParse(value).success).toBe(true);
    }
  });

  it('refuse unknown keys, bad sizes, bad names and escaping paths', () => {
    for (const value of [
      { paths: 'a', sise: '20g' },
      { paths: 'a', size: '19g' },
      { paths: 'a', name: '../x' },
      '../x',
      [],
      7,
    ]) {
      expect(cacheConfigSchema.safeParse(value).success).toBe(false);
    }
  });
});

describe('options', () => {
  it('refuses a slug that is not a volume name, naming the option', () => {
    let caught: unknown;
    try {
      parsePipeline({ steps: [] }, { pipelineSlug: 'bad slug', os: 'linux' });
    } catch (error) {
      caught = error;
    }
    expect(isCacheVolumeError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toMatch(/pipelineSlug.*"bad slug"/);
  });

  it('refuses an unknown operating system', () => {
    expect(() => parsePipeline({ steps: [] }, { pipelineSlug: 'p', os: 'windows' as 'linux' })).toThrow(/os/);
  });
});
