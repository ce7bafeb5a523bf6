import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type ObjectStore, parseOptions } from '@cachevol/core';
import { type FailureContext, s3Error } from './internal/errors.js';
import {
  type ResolvedS3ObjectStoreOptions,
  type S3ObjectStoreOptions,
  s3ObjectStoreOptionsSchema,
} from './options.js';

/** An {@link ObjectStore} in an S3-compatible bucket, from {@link createS3ObjectStore}. */
export interface S3ObjectStore extends ObjectStore {
  /** The bucket. */
  readonly bucket: string;
  /** The prefix of every key in the bucket (`""`, or ending in `/`). */
  readonly prefix: string;
  /** The AWS SDK client it uses (for checks and tests; the store destroys it on `close()`). */
  readonly client: S3Client;
}

/** Deletes run this many at once. */
const DELETE_CONCURRENCY = 4;

/**
 * An object store in an S3-compatible bucket (AWS S3, MinIO, Ceph radosgw, Cloudflare R2,
 * s3rver): the durable tier between the hosts of a fleet, passed to `CacheVolumes` as
 * `objects: { store }`.
 *
 * Streams are uploaded in parts (`@aws-sdk/lib-storage`), so an object of any size needs no
 * more memory than `partSizeBytes × queueSize`; a stream that fails aborts its multipart upload.
 * Objects are read as streams. Keys are written once (the engine makes them unique), so nothing
 * depends on conditional writes, which some S3-compatible servers ignore. Checksums are sent
 * and checked only where S3 requires them (`WHEN_REQUIRED`): the engine checks each object's
 * sha256 itself, and many S3-compatible servers reject the SDK's newer default checksums.
 *
 * Failures are `CacheVolumeError`s: `NOT_FOUND` for a key that is not there, `STORE_FAILED`
 * otherwise, with a message naming what to check (the endpoint, the bucket, the credentials).
 *
 * @param options - bucket, prefix, endpoint, region, credentials, part size and timeouts
 * @throws `INVALID_ARGUMENT` for bad options (nothing is contacted until the first call)
 * @example
 * ```ts
 * import { createS3ObjectStore } from '@cachevol/objects-s3'
 *
 * // Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 * const objects = createS3ObjectStore({ bucket: 'ci-cache', prefix: 'cachevol/', endpoint: 'http://10.0.0.5:9000' })
 * const volumes = new CacheVolumes({ backend, store, objects: { store: objects } })
 * ```
 */
export function createS3ObjectStore(options: S3ObjectStoreOptions): S3ObjectStore {
  const opts: ResolvedS3ObjectStoreOptions = parseOptions(
    s3ObjectStoreOptionsSchema,
    options,
    'createS3ObjectStore options',
  );
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const client = new S3Client({
    region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: opts.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: opts.connectTimeoutMs, requestTimeout: opts.idleTimeoutMs },
  });
  const { bucket, prefix } = opts;
  const name = `s3://${bucket}${prefix ? `/${prefix.replace(/\/$/, '')}` : ''}`;
  const endpoint = opts.endpoint ?? `AWS S3 (${region})`;
  const context = (operation: FailureContext['operation'], key: string): FailureContext => ({
    operation,
    key,
    store: name,
    endpoint,
  });

  return {
    name,
    bucket,
    prefix,
    client,

    async put(key, body, { signal } = {}) {
      let bytes = 0;
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of body) {
          bytes += chunk.length;
          yield chunk;
        }
      }
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: prefix + key, Body: Readable.from(counted(), { objectMode: false }) },
        partSize: opts.partSizeBytes,
        queueSize: opts.queueSize,
        leavePartsOnError: false,
      });
      const onProgress = opts.onProgress;
      if (onProgress) upload.on('httpUploadProgress', (p) => onProgress({ key, doneBytes: p.loaded ?? 0 }));
      const abort = () => void upload.abort().catch(() => undefined);
      signal?.addEventListener('abort', abort, { once: true });
      try {
        if (signal?.aborted) abort();
        await upload.done();
      } catch (error) {
        throw s3Error(error, context('put', prefix + key));
      } finally {
        signal?.removeEventListener('abort', abort);
      }
      return { bytes };
    },

    async get(key, { signal } = {}) {
      const where = context('get', prefix + key);
      let response: GetObjectCommandOutput;
      try {
        response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }), {
          ...(signal ? { abortSignal: signal } : {}),
        });
      } catch (error) {
        throw s3Error(error, where);
      }
      const stream = response.Body as AsyncIterable<Uint8Array> | undefined;
      async function* read(): AsyncGenerator<Uint8Array> {
        if (!stream) return;
        try {
          for await (const chunk of stream) yield chunk;
        } catch (error) {
          throw s3Error(error, where);
        }
      }
      return read();
    },

    async delete(keys) {
      const queue = [...keys];
      const worker = async () => {
        for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
          try {
            await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + key }));
          } catch (error) {
            const failure = s3Error(error, context('delete', prefix + key));
            if (failure.code !== 'NOT_FOUND') throw failure;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, queue.length) }, worker));
    },

    async close() {
      client.destroy();
    },
  };
}
