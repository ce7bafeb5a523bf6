import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { increment, testFork } from '@cachevol/core/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { storeFailure } from '../src/internal/errors.js';
import { failure, TEST_BUSY_TIMEOUT_MS, tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();
const key = { scope: 'pipe', name: 'deps' };

describe('errors', () => {
  it('fails a write with STORE_FAILED when another process holds the database past busyTimeoutMs', async () => {
    const path = join(dir(), 'state.db');
    const store = createSqliteStore({ path, busyTimeoutMs: TEST_BUSY_TIMEOUT_MS });
    await store.transact(key, increment);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    const error = await failure(() => store.transact(key, increment));
    expect(Date.now() - started).toBeGreaterThanOrEqual(TEST_BUSY_TIMEOUT_MS - 50);
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/writing volume pipe\/deps/);
    expect(error.message).toMatch(/another process held the database longer than busyTimeoutMs \(300 ms\)/);
    expect(error.message).toMatch(/raise busyTimeoutMs/);
    expect((error.cause as { code?: string }).code).toBe('SQLITE_BUSY');
    expect((await failure(() => store.pruneForks(0))).message).toMatch(/busyTimeoutMs/);
    other.exec('ROLLBACK');
    other.close();
    expect(await store.transact(key, increment)).toBe(2);
    await store.close();
  });

  it('refuses a file that is not a database, names it, says how to recover, and never changes it', async () => {
    const path = join(dir(), 'state.db');
    writeFileSync(path, 'this is not an SQLite database\n'.repeat(200));
    const before = readFileSync(path);
    const error = await failure(() => createSqliteStore({ path }));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/SQLITE_NOTADB/);
    expect(error.message).toMatch(/will not overwrite it/);
    expect(error.message).toMatch(/restore .* from a backup/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('reports a database whose pages are corrupt as STORE_FAILED, not a raw SqliteError', async () => {
    const path = join(dir(), 'state.db');
    const store = createSqliteStore({ path });
    for (let i = 0; i < 50; i++) await store.transact({ scope: 's', name: `v${i}` }, increment);
    await store.close();
    const bytes = readFileSync(path);
    bytes.fill(0x41, 4096);
    writeFileSync(path, bytes);
    const error = await failure(async () => {
      const broken = createSqliteStore({ path });
      try {
        await broken.listVolumes();
      } finally {
        await broken.close();
      }
    });
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(/SQLITE_CORRUPT/);
    expect(error.message).toMatch(/will not overwrite it/);
  });

  it('reports a record that is not JSON as a corrupt database', async () => {
    const path = join(dir(), 'state.db');
    const store = createSqliteStore({ path });
    await store.transact(key, (s) => ({ slice: { ...s, forks: { f1: testFork(key, 'f1') } }, result: 0 }));
    const raw = new Database(path);
    raw.prepare("UPDATE forks SET record = '{broken'").run();
    raw.close();
    const error = await failure(() => store.findFork('f1'));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(/holds a corrupt record \(a fork\)/);
    expect((await failure(() => store.read(key))).code).toBe('STORE_FAILED');
    await store.close();
  });

  it('names the path when the database cannot be opened or its directory made', async () => {
    const directory = join(dir(), 'a-directory');
    mkdirSync(directory);
    const cantOpen = await failure(() => createSqliteStore({ path: directory }));
    expect(cantOpen.code).toBe('STORE_FAILED');
    expect(cantOpen.message).toMatch(/SQLITE_CANTOPEN/);
    expect(cantOpen.message).toContain(directory);
    const file = join(dir(), 'a-file');
    writeFileSync(file, '');
    const noDir = await failure(() => createSqliteStore({ path: join(file, 'state.db') }));
    expect(noDir.code).toBe('STORE_FAILED');
    expect(noDir.message).toMatch(/Cannot create the directory/);
  });

  it('gives every SQLite failure a STORE_FAILED message with the path and what to do', () => {
    const ctx = { path: '/var/lib/cachevol/state.db', busyTimeoutMs: 10_000 };
    const cases: [string, RegExp][] = [
      ['SQLITE_BUSY_SNAPSHOT', /busyTimeoutMs \(10000 ms\)/],
      ['SQLITE_CORRUPT_INDEX', /restore \/var\/lib\/cachevol\/state\.db from a backup/],
      ['SQLITE_NOTADB', /will not overwrite it/],
      ['SQLITE_FULL', /disk is full\. Free space on the filesystem holding \/var\/lib\/cachevol/],
      ['SQLITE_IOERR_FSYNC', /I\/O error\. Check the disk/],
      ['SQLITE_READONLY_DBMOVED', /may write \/var\/lib\/cachevol\/state\.db, .*-wal/],
      ['SQLITE_CANTOPEN_ISDIR', /cannot be opened\. Check that \/var\/lib\/cachevol exists/],
      ['SQLITE_MISUSE', /failed with SQLITE_MISUSE \(boom\)\.$/],
    ];
    for (const [code, hint] of cases) {
      const error = storeFailure(new Database.SqliteError('boom', code), ctx, 'writing volume a/b');
      expect(error.code).toBe('STORE_FAILED');
      expect(error.message).toContain('/var/lib/cachevol/state.db');
      expect(error.message).toContain(code);
      expect(error.message).toMatch(hint);
      expect(error.details).toMatchObject({ path: ctx.path, sqliteCode: code });
    }
    const other = storeFailure(new TypeError('odd'), ctx, 'reading volume a/b');
    expect(other.code).toBe('STORE_FAILED');
    expect(other.message).toBe('SQLite store /var/lib/cachevol/state.db: reading volume a/b failed: odd.');
  });
});
