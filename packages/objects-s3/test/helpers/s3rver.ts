import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3ObjectStore, type S3ObjectStore, type S3ObjectStoreOptions } from '../../src/index.js';

/** The part of s3rver's API the tests use (it ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

// The SDK warns once per process that its releases after January 2027 need Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

/** The bucket every test server has. */
export const BUCKET = 'cachevol-test';

/** An s3rver on 127.0.0.1, on a free port, with its own temporary directory. */
export interface TestS3 {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Where s3rver keeps the bucket's files. */
  directory: string;
  /** A store on the server's bucket (with s3rver's fixed test credentials). */
  store(options?: Partial<S3ObjectStoreOptions>): S3ObjectStore;
  /** The path of the file that holds an object's bytes (to corrupt it in a test). */
  objectFile(key: string): string;
  /** The keys of the objects in the bucket (from the server's directory, not a listing). */
  keys(): Promise<string[]>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** s3rver accepts any credentials; these keep the SDK from searching for real ones. */
export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** Starts an s3rver with one bucket, {@link BUCKET}. */
export async function startS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'cachevol-test-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const stores: S3ObjectStore[] = [];
  const suffix = '._S3rver_object';
  return {
    endpoint,
    directory,
    store(options = {}) {
      const store = createS3ObjectStore({
        bucket: BUCKET,
        endpoint,
        credentials: TEST_CREDENTIALS,
        ...options,
      });
      stores.push(store);
      return store;
    },
    objectFile(key) {
      const parts = key.split('/');
      const last = parts.pop() as string;
      return join(directory, BUCKET, ...parts, `${last}${suffix}`);
    },
    async keys() {
      const found: string[] = [];
      const walk = async (dir: string, at: string[]) => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) await walk(join(dir, entry.name), [...at, entry.name]);
          else if (entry.name.endsWith(suffix))
            found.push([...at, entry.name.slice(0, -suffix.length)].join('/'));
        }
      };
      await walk(join(directory, BUCKET), []);
      return found.sort();
    },
    async stop() {
      for (const store of stores.splice(0)) await store.close?.();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
