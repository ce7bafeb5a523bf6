import { z } from 'zod';
import { MAX_FALLBACKS } from '../engine/options.js';
import { isCacheVolumeError } from '../errors.js';
import { validateName } from '../names.js';
import { parseSize } from '../size.js';
import { describeValue } from './internal/describe.js';
import { type CacheOs, normalizeCachePath } from './paths.js';

/** Runs a core validator and turns its error into a zod issue carrying the same message. */
function check(validate: (value: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      validate(value);
    } catch (error) {
      if (!isCacheVolumeError(error)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, input: value });
    }
  };
}

function expected(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined
      ? `Missing: expected ${what}.`
      : `Expected ${what}, got ${describeValue(issue.input)}.`;
}

/** A volume name: segments of letters, digits, `_`, `.`, `-`, joined by `/` (see `validateName`). */
export const cacheVolumeNameSchema = z
  .string({ error: expected('a volume name string such as "node-modules-volume"') })
  .superRefine(check((name) => validateName(name)))
  .describe('the volume name; defaults to the pipeline slug');

/** A requested size: whole gigabytes written `Ng`, at least `20g` (see `parseSize`). */
export const cacheSizeSchema = z
  .string({
    error: expected('a size in whole gigabytes written "Ng", such as "20g" (the default and minimum)'),
  })
  .superRefine(check(parseSize))
  .describe('the requested size, "Ng"; default and minimum "20g"');

/**
 * One entry of `fallbacks`: a volume name (in the run's scope), or `{ name, scope? }` (see
 * `AttachOptions.fallbacks`).
 */
export const cacheFallbackSchema = z
  .union(
    [
      cacheVolumeNameSchema,
      z.strictObject(
        {
          name: cacheVolumeNameSchema,
          scope: z
            .string({ error: expected('a scope string such as "main"') })
            .superRefine(check((scope) => validateName(scope, 'scope')))
            .optional(),
        },
        {
          error: (issue) =>
            issue.code === 'unrecognized_keys'
              ? 'Unknown key: a fallback takes "name" and "scope".'
              : undefined,
        },
      ),
    ],
    { error: expected('a volume name string or { name, scope? }') },
  )
  .describe('a volume to fork on a miss: a name, or { name, scope? }');

/** The `fallbacks` attribute: at most `MAX_FALLBACKS` (8) volumes, tried in order on a miss. */
export const cacheFallbacksSchema = z
  .array(cacheFallbackSchema, { error: expected('a list of fallback volumes') })
  .max(MAX_FALLBACKS, `List at most ${MAX_FALLBACKS} fallback volumes.`)
  .describe('volumes to fork, in order, when this one has nothing usable');

/** Builds the path, list, volume and cache schemas with one operating system's path rules. */
function buildSchemas(os: CacheOs) {
  const path = z
    .string({ error: expected('a path string such as "node_modules" or "/tmp/volume"') })
    .superRefine(check((value) => normalizeCachePath(value, os)))
    .describe('a path, relative to the working directory or absolute (relative to the instance root)');
  const list = z
    .array(path, { error: expected('a list of path strings') })
    .min(1, 'The list of paths is empty: list at least one path.')
    .describe('a list of paths');
  const paths = z
    .union([path, list], { error: expected('a path string or a list of path strings') })
    .describe('the paths to keep in the volume');
  const volume = z
    .strictObject(
      {
        paths,
        name: cacheVolumeNameSchema.optional(),
        size: cacheSizeSchema.optional(),
        fallbacks: cacheFallbacksSchema.optional(),
      },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? 'Unknown key: the allowed keys are "paths", "name", "size" and "fallbacks".'
            : undefined,
      },
    )
    .describe('a volume: { paths, name?, size?, fallbacks? }');
  const config = z
    .union([path, list, volume], {
      error: expected('a path string, a list of path strings, or { paths, name?, size? }'),
    })
    .describe('the cache key: a path, a list of paths, or { paths, name?, size? }');
  return { path, list, paths, volume, config };
}

const linuxSchemas = buildSchemas('linux');
const macosSchemas = buildSchemas('macos');

/**
 * One cache path: a non-empty string, relative to the step's working directory or, when it
 * starts with `/`, to the instance root, that may not climb out of its root with `..`. These are
 * the rules of `normalizeCachePath` common to every system; {@link cacheConfigSchemaFor} adds
 * the macOS reserved paths.
 */
export const cachePathSchema = linuxSchemas.path;

/** A non-empty list of {@link cachePathSchema cache paths}. */
export const cachePathListSchema = linuxSchemas.list;

/** The `paths` attribute: one {@link cachePathSchema path} or a list of them. */
export const cachePathsSchema = linuxSchemas.paths;

/**
 * The object form of a `cache` value: `{ paths, name?, size?, fallbacks? }`. Unknown keys are
 * errors. `fallbacks` lists volumes to fork, in order, when this one has nothing usable.
 *
 * @defaultValue `name`: the pipeline slug; `size`: `"20g"`; `fallbacks`: none
 */
export const cacheVolumeSchema = linuxSchemas.volume;

/**
 * The `cache` key, at pipeline top level or on a command step, in any of its three forms: a path
 * (`cache: ".volume"`), a list of paths, or `{ paths, name?, size? }`. It applies the path rules
 * common to every system; {@link cacheConfigSchemaFor} adds the macOS reserved paths.
 *
 * @example
 * ```ts
 * cacheConfigSchema.parse('node_modules')
 * cacheConfigSchema.parse({ paths: ['vendor/bundle'], name: 'bundle-volume', size: '20g' })
 * ```
 */
export const cacheConfigSchema = linuxSchemas.config;

/** The `cache` key at pipeline top level: the default volume of every step. Same as {@link cacheConfigSchema}. */
export const pipelineCacheSchema = cacheConfigSchema;
/** The `cache` key on a command step, merged with the top-level volume by name. Same as {@link cacheConfigSchema}. */
export const stepCacheSchema = cacheConfigSchema;

/**
 * The schema of the `cache` key with one operating system's path rules: on `macos` the reserved
 * paths (`/tmp`, `/private`, ...) are refused as well.
 *
 * @param os - whose path rules apply
 *
 * @example
 * ```ts
 * cacheConfigSchemaFor('macos').safeParse('/tmp').success // false
 * cacheConfigSchemaFor('macos').safeParse('/tmp/volume').success // true
 * ```
 */
export function cacheConfigSchemaFor(os: CacheOs): typeof cacheConfigSchema {
  return os === 'macos' ? macosSchemas.config : linuxSchemas.config;
}

/** A `cache` value as written in pipeline.yml, in any of its three forms. */
export type CacheConfig = z.input<typeof cacheConfigSchema>;
/** One entry of a cache's `fallbacks` as written: a volume name, or `{ name, scope? }`. */
export type CacheFallbackConfig = z.input<typeof cacheFallbackSchema>;
/** The object form of a `cache` value. */
export type CacheVolumeConfig = z.input<typeof cacheVolumeSchema>;
