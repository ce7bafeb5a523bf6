import { isCacheVolumeError } from '@cachevol/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStoreOptions } from '../src/index.js';

function refusal(options: unknown): string {
  try {
    createPostgresStore(options as PostgresStoreOptions);
  } catch (error) {
    expect(isCacheVolumeError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`createPostgresStore accepted ${JSON.stringify(options)}`);
}

describe('createPostgresStore options', () => {
  it('needs exactly one of connectionString and pool', () => {
    expect(refusal({})).toMatch(/connectionString: give exactly one of connectionString and pool/);
    const pool = new pg.Pool();
    expect(refusal({ connectionString: 'postgres://ci@db/cachevol', pool })).toMatch(/exactly one/);
    void pool.end();
  });

  it('refuses what is not a postgres URL, and never repeats the password', () => {
    expect(refusal({ connectionString: 'mysql://ci:s3cret@db/cachevol' })).toMatch(
      /connectionString: must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    const message = refusal({ connectionString: 'postgres://ci:s3cret@[db/cachevol' });
    expect(message).toMatch(/connectionString: cannot be parsed/);
    expect(message).not.toContain('s3cret');
  });

  it('takes postgres:// and postgresql:// URLs, with a unix socket directory as host', async () => {
    for (const connectionString of [
      'postgres://ci@/cachevol?host=/run/postgresql',
      'postgresql://ci:pw@db.internal:6432/cachevol',
    ]) {
      const store = createPostgresStore({ connectionString });
      expect(store.name).toBe('postgres');
      expect(store.schema).toBe('cachevol');
      await store.close();
    }
  });

  it('refuses a schema that is not a plain lower-case identifier', () => {
    for (const schema of ['Cachevol', 'cache-vol', '1st', 'a"; DROP TABLE x; --', '', 'x'.repeat(64)])
      expect(refusal({ connectionString: 'postgres://ci@db/cachevol', schema })).toMatch(/schema: must be/);
  });

  it('refuses bad timeouts, unknown options, and max with a pool of the caller', () => {
    expect(refusal({ connectionString: 'postgres://ci@db/x', lockTimeoutMs: 0 })).toMatch(/lockTimeoutMs/);
    expect(refusal({ connectionString: 'postgres://ci@db/x', idleInTransactionTimeoutMs: 1.5 })).toMatch(
      /idleInTransactionTimeoutMs/,
    );
    expect(refusal({ connectionString: 'postgres://ci@db/x', lockTimeout: 5 })).toMatch(/lockTimeout/);
    const pool = new pg.Pool();
    expect(refusal({ pool, max: 4 })).toMatch(/max: applies only to the pool the store creates/);
    expect(refusal({ pool: { not: 'a pool' } })).toMatch(/pool: must be a pg.Pool/);
    void pool.end();
  });
});
