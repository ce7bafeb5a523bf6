import { hostname } from 'node:os';
import { z } from 'zod';
import type { ObjectStore } from '../contracts/object-store.js';
import { DEFAULT_FULL_EVERY } from '../model/objects.js';
import { COMMIT_MODES } from '../model/state.js';

/** Default lease: a fork not renewed by `heartbeat()` for this long may be abandoned by `gc()`. */
export const DEFAULT_LEASE_MS = 2 * 60 * 60 * 1000;
/** Ended fork records are kept this long, so a late `commit` gets a clear error, then pruned. */
export const DEFAULT_KEEP_ENDED_MS = 24 * 60 * 60 * 1000;

const positiveMs = z.number().int().positive();

/** Most fallback volumes one attach may list (each one it tries costs a store transaction). */
export const MAX_FALLBACKS = 8;

/** One fallback volume: a name (in the attach's scope), or a name and a scope. */
export const fallbackVolumeSchema = z.union([
  z.string(),
  z.object({ name: z.string(), scope: z.string().optional() }).strict(),
]);
const limit = z.number().positive();

/** The schema of {@link ObjectTierOptions}: the object store tier's settings. */
export const objectTierSchema = z
  .object({
    store: z.custom<ObjectStore>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['put', 'get', 'delete'].every(
          (method) => typeof (value as Record<string, unknown>)[method] === 'function',
        ),
      'expected an ObjectStore (an object with put, get and delete), e.g. createS3ObjectStore(...)',
    ),
    fullEvery: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_FULL_EVERY)
      .describe('a full object every this many versions of a lineage; differentials in between'),
    format: z
      // A string enum (not a literal tuple), like `commit`: the docs then list no members.
      .enum(['tar-zstd', 'btrfs-send', 'zfs-send'] as [string, ...string[]])
      .optional()
      .describe("the format objects are uploaded in (default: the backend's own)"),
  })
  .strict();

/**
 * The object store tier (see `CacheVolumesOptions.objects`).
 *
 * - `store`: where objects go, e.g. `createS3ObjectStore(...)` of `@cachevol/objects-s3`.
 * - `fullEvery` (default {@link DEFAULT_FULL_EVERY}): with formats that have incrementals
 *   (`btrfs-send`, `zfs-send`), one full object every this many versions of a lineage, and
 *   differentials against it in between (a full comes sooner once the last differential is
 *   more than half the full's size). `1` uploads every version whole.
 * - `format` (default: the backend's own, its first `transferFormats`): the format of uploads.
 *   `tar-zstd` for a fleet that mixes backends (every backend reads it; always whole).
 */
export type ObjectTierOptions = z.input<typeof objectTierSchema>;

/** The schema of {@link CacheVolumesOptions}, minus the backend and store objects. */
export const engineSettingsSchema = z.object({
  host: z
    .string()
    .min(1)
    .default(() => hostname())
    .describe('this host, for locality'),
  leaseMs: positiveMs.default(DEFAULT_LEASE_MS).describe('fork lease length'),
  keepEndedMs: positiveMs.default(DEFAULT_KEEP_ENDED_MS).describe('how long ended fork records are kept'),
  concurrency: z.number().int().min(1).default(4).describe('backend operations run at once'),
  policy: z
    .object({
      retentionMs: positiveMs.optional(),
      maxStaleVersions: z.number().int().min(0).or(z.literal(Number.POSITIVE_INFINITY)).optional(),
      maxStaleMs: limit.optional(),
      maxForksPerVersion: z.number().int().min(1).or(z.literal(Number.POSITIVE_INFINITY)).optional(),
      transfer: z.boolean().optional(),
      maxTotalBytes: limit.optional(),
      maxVersionsPerVolume: z.number().int().min(1).or(z.literal(Number.POSITIVE_INFINITY)).optional(),
    })
    .strict()
    .default({})
    .describe('selection and retention policy overrides'),
  objects: objectTierSchema.optional().describe('the object store tier: uploads after commits, restores'),
});

/** The schema of {@link AttachOptions}. */
export const attachOptionsSchema = z
  .object({
    scope: z.string().default('default').describe('isolation unit (pipeline, cluster)'),
    size: z.string().optional().describe('requested size, "Ng"; default and minimum 20g'),
    job: z.string().default('anonymous').describe('the job that holds the fork'),
    host: z.string().optional().describe('requesting host; defaults to the engine host'),
    commit: z
      .enum(COMMIT_MODES as [string, ...string[]])
      .default('on-success')
      .describe('commit mode'),
    failOnMiss: z.boolean().default(false).describe('throw NOT_FOUND instead of attaching an empty fork'),
    leaseMs: positiveMs.optional().describe('lease length for this fork'),
    fallbacks: z
      .array(fallbackVolumeSchema)
      .max(MAX_FALLBACKS, `list at most ${MAX_FALLBACKS} fallback volumes`)
      .default([])
      .describe('volumes to fork, in order, when this one has nothing usable'),
  })
  .strict();

/**
 * Options for `attach()`.
 *
 * - `scope` (default `"default"`): the isolation unit.
 * - `size` (default `"20g"`): requested size, `Ng`.
 * - `job` (default `"anonymous"`): who holds the fork.
 * - `host`: the requesting host (defaults to the engine's host).
 * - `commit` (default `"on-success"`): the {@link CommitMode}.
 * - `failOnMiss` (default `false`): throw `NOT_FOUND` rather than attach an empty fork.
 * - `leaseMs`: lease length for this fork.
 * - `fallbacks` (default none): at most {@link MAX_FALLBACKS} other volumes, each a name (in
 *   `scope`) or `{ name, scope }`. On a miss, the fork is made from the first of them that has a
 *   usable version (its head, else a stale one, by the same rules); its commit still goes to the
 *   requested volume, and `ForkHandle.source` says where the data came from. The requested
 *   volume counts a `miss`; `failOnMiss` throws only when no fallback had data either.
 *
 * @example
 * ```ts
 * // A feature branch's cache starts from main's (like actions/cache restore-keys).
 * const fork = await volumes.attach('deps', { scope: 'feature-x', fallbacks: [{ name: 'deps', scope: 'main' }] })
 * ```
 */
export type AttachOptions = z.input<typeof attachOptionsSchema>;

/** One entry of `AttachOptions.fallbacks`: a volume name (in the attach's scope), or `{ name, scope }`. */
export type FallbackVolume = z.input<typeof fallbackVolumeSchema>;

/** Engine settings as given (see {@link CacheVolumesOptions}). */
export type EngineSettings = z.input<typeof engineSettingsSchema>;
