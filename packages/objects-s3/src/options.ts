import { z } from 'zod';

/** Default for {@link S3ObjectStoreOptions} `partSizeBytes`: 16 MiB. */
export const DEFAULT_PART_SIZE_BYTES = 16 * 1024 * 1024;
/** Default for {@link S3ObjectStoreOptions} `connectTimeoutMs`: 10 seconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default for {@link S3ObjectStoreOptions} `idleTimeoutMs`: 60 seconds. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Default for {@link S3ObjectStoreOptions} `maxAttempts`: 3. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** The smallest part S3 accepts in a multipart upload (all but the last): 5 MiB. */
const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;

const milliseconds = (fallback: number, what: string) =>
  z.number().int().positive().max(2_147_483_647).default(fallback).describe(what);

/** The schema of {@link S3ObjectStoreOptions}: the single source of truth for the options. */
export const s3ObjectStoreOptionsSchema = z
  .object({
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        'must be an S3 bucket name: 3 to 63 characters, lower-case letters, digits, dots and hyphens',
      )
      .describe('the bucket, which must exist'),
    prefix: z
      .string()
      .max(512)
      .regex(/^(?!\/)/, 'must not start with "/"')
      .default('')
      .transform((prefix) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`))
      .describe('a key prefix inside the bucket, e.g. "cachevol/"; a "/" is added when missing'),
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^/]/, 'must be an http:// or https:// URL')
      .optional()
      .describe('an S3-compatible server, e.g. http://127.0.0.1:9000; default: AWS S3 of the region'),
    region: z
      .string()
      .min(1)
      .optional()
      .describe('the region; default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1'),
    forcePathStyle: z
      .boolean()
      .optional()
      .describe('address the bucket in the path (http://host/bucket/key); default: true with an endpoint'),
    credentials: z
      .object({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      })
      .strict()
      .optional()
      .describe(
        'access keys; default: the AWS SDK chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles, roles)',
      ),
    partSizeBytes: z
      .number()
      .int()
      .min(MIN_PART_SIZE_BYTES, 'must be at least 5 MiB (S3 refuses smaller parts)')
      .default(DEFAULT_PART_SIZE_BYTES)
      .describe('the part size of multipart uploads; objects smaller than one part are one PUT'),
    queueSize: z.number().int().min(1).max(64).default(4).describe('parts uploaded at once'),
    connectTimeoutMs: milliseconds(DEFAULT_CONNECT_TIMEOUT_MS, 'how long opening a connection may take'),
    idleTimeoutMs: milliseconds(
      DEFAULT_IDLE_TIMEOUT_MS,
      'how long a request may go without a byte in either direction before it fails',
    ),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(DEFAULT_MAX_ATTEMPTS)
      .describe('attempts of each request (the SDK retries with backoff)'),
    onProgress: z
      .custom<(progress: S3Progress) => void>((value) => typeof value === 'function', 'must be a function')
      .optional()
      .describe('called as an upload makes progress'),
  })
  .strict();

/** The progress of an upload, for {@link S3ObjectStoreOptions} `onProgress`. */
export interface S3Progress {
  /** The object's key, as the caller named it (without the prefix). */
  key: string;
  /** Bytes uploaded so far. */
  doneBytes: number;
}

/**
 * Options for `createS3ObjectStore`.
 *
 * - `bucket` (required): the bucket, which must exist.
 * - `prefix` (default none): a prefix of every key inside the bucket, e.g. `cachevol/`, so
 *   several uses share a bucket.
 * - `endpoint`: an S3-compatible server (MinIO, Ceph radosgw, R2, s3rver), e.g.
 *   `http://127.0.0.1:9000`; without it, AWS S3 of the region.
 * - `region` (default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`).
 * - `forcePathStyle` (default `true` with an `endpoint`, else `false`): address the bucket in
 *   the URL's path rather than its host name; most S3-compatible servers need it.
 * - `credentials` (default the AWS SDK's chain: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 *   `AWS_SESSION_TOKEN`, `AWS_PROFILE`, instance and container roles).
 * - `partSizeBytes` (default 16 MiB, at least 5 MiB) and `queueSize` (default 4): streams are
 *   uploaded in parts of this size, this many at once (an object smaller than a part is one PUT).
 * - `connectTimeoutMs` (default 10 000), `idleTimeoutMs` (default 60 000), `maxAttempts`
 *   (default 3): a server that cannot be reached, or stops sending, fails the call within a
 *   bound instead of hanging.
 * - `onProgress`: called as uploads make progress.
 */
export type S3ObjectStoreOptions = z.input<typeof s3ObjectStoreOptionsSchema>;

/** {@link S3ObjectStoreOptions} after parsing, with defaults filled in. */
export type ResolvedS3ObjectStoreOptions = z.infer<typeof s3ObjectStoreOptionsSchema>;
