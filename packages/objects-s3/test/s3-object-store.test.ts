import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { isCacheVolumeError } from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ObjectStore } from '../src/index.js';
import { BUCKET, startS3, TEST_CREDENTIALS, type TestS3 } from './helpers/s3rver.js';

const MIB = 1024 * 1024;

async function* chunks(bytes: Uint8Array, size = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCacheVolumeError(error)) throw new Error(`expected a CacheVolumeError, got ${String(error)}`);
  return error;
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the S3 object store against s3rver', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('round-trips a multi-MiB stream in several parts, under the prefix', async () => {
    const progress: number[] = [];
    const store = s3.store({
      prefix: 'ci',
      partSizeBytes: 5 * MIB,
      onProgress: (p) => progress.push(p.doneBytes),
    });
    expect(store.name).toBe(`s3://${BUCKET}/ci`);
    const bytes = noise(12 * MIB + 12345);
    expect(await store.put('main/deps/v1/a.tar-zstd', chunks(bytes))).toEqual({ bytes: bytes.length });
    expect(await s3.keys()).toContain('ci/main/deps/v1/a.tar-zstd');
    const back = await readAll(await store.get('main/deps/v1/a.tar-zstd'));
    expect(back.length).toBe(bytes.length);
    expect(sha(back)).toBe(sha(bytes));
    expect(progress.length).toBeGreaterThan(0);
    expect(Math.max(...progress)).toBe(bytes.length);
  });

  it('stores a small stream as one object, and an empty one', async () => {
    const store = s3.store();
    expect(store.name).toBe(`s3://${BUCKET}`);
    await store.put('small', chunks(Buffer.from('hello')));
    expect((await readAll(await store.get('small'))).toString()).toBe('hello');
    await store.put('empty', chunks(new Uint8Array(0)));
    expect((await readAll(await store.get('empty'))).length).toBe(0);
  });

  it('a missing key is NOT_FOUND; delete removes objects and ignores missing ones', async () => {
    const store = s3.store({ prefix: 'del/' });
    const missing = await rejection(store.get('nothing/here'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toBe(`No object "del/nothing/here" in s3://${BUCKET}/del.`);
    await store.put('a', chunks(Buffer.from('a')));
    await store.put('b', chunks(Buffer.from('b')));
    await store.delete(['a', 'b', 'never-there']);
    expect((await s3.keys()).filter((k) => k.startsWith('del/'))).toEqual([]);
    expect((await rejection(store.get('a'))).code).toBe('NOT_FOUND');
    await store.delete([]);
  });

  it('a stream that fails leaves no object', async () => {
    const store = s3.store({ prefix: 'cut/', partSizeBytes: 5 * MIB });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield noise(6 * MIB);
      throw new Error('the sender died');
    }
    await expect(store.put('x', failing())).rejects.toThrow();
    expect((await s3.keys()).filter((k) => k.startsWith('cut/'))).toEqual([]);
  });

  it('an endpoint that nothing listens on fails with STORE_FAILED, naming it, within a bound', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const store = createS3ObjectStore({
      bucket: BUCKET,
      endpoint,
      credentials: TEST_CREDENTIALS,
      connectTimeoutMs: 2000,
    });
    const started = Date.now();
    const calls = [
      () => store.get('k'),
      () => store.put('k', chunks(Buffer.from('x'))),
      () => store.delete(['k']),
    ];
    for (const call of calls) {
      const error = await rejection(call());
      expect(error.code).toBe('STORE_FAILED');
      expect(error.message).toMatch(new RegExp(`Cannot reach ${endpoint} .*Check the endpoint URL`));
    }
    expect(Date.now() - started).toBeLessThan(20_000);
    await store.close?.();
  });

  it('a bucket that does not exist is STORE_FAILED saying so', async () => {
    const store = s3.store({ bucket: 'no-such-bucket' });
    const error = await rejection(store.put('k', chunks(Buffer.from('x'))));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(/the bucket does not exist at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('refuses bad options with INVALID_ARGUMENT naming them', () => {
    const error = (() => {
      try {
        createS3ObjectStore({ bucket: 'Bad_Bucket', endpoint: 'ftp://x', partSizeBytes: 1024 });
      } catch (e) {
        return e as { code: string; message: string };
      }
    })();
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toMatch(/bucket: must be an S3 bucket name/);
    expect(error?.message).toMatch(/endpoint: must be an http/);
    expect(error?.message).toMatch(/partSizeBytes: must be at least 5 MiB/);
  });
});
