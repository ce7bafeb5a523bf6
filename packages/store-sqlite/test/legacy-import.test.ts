import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LegacyStateDocument, slicesFromLegacyState, type VolumeSlice } from '@cachevol/core';
import { increment, readAllSlices, runStoreWorkers } from '@cachevol/core/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { failure, PATIENT_BUSY_TIMEOUT_MS, TEST_BUSY_TIMEOUT_MS, tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();
/**
 * A state.json written by cachevol's first release (store-file and the memory backend): two
 * volumes, a version being removed, committed and abandoned forks, a live attached fork and a
 * commit that the process died in.
 */
const LEGACY = fileURLToPath(new URL('./fixtures/legacy-state.json', import.meta.url));
const legacyDoc = (): LegacyStateDocument => JSON.parse(readFileSync(LEGACY, 'utf8'));

function setUp(doc: unknown = legacyDoc()) {
  const path = join(dir(), 'state.db');
  const file = join(dir(), 'state.json');
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return { path, file, open: () => createSqliteStore({ path, importFrom: file }) };
}

const importRecord = (path: string): unknown => {
  const raw = new Database(path, { readonly: true });
  try {
    const value = raw.prepare("SELECT value FROM meta WHERE key = 'legacy_import'").pluck().get() as
      | string
      | undefined;
    return value === undefined ? null : JSON.parse(value);
  } finally {
    raw.close();
  }
};

const liveOnly = (slice: VolumeSlice): VolumeSlice => ({
  ...slice,
  forks: Object.fromEntries(
    Object.entries(slice.forks).filter(([, f]) => !['committed', 'abandoned'].includes(f.state)),
  ),
});

describe('importing a first-release state.json', () => {
  it('imports every volume and fork exactly, then keeps the file as <file>.imported', async () => {
    const { path, file, open } = setUp();
    copyFileSync(LEGACY, file);
    const store = open();
    const expected = slicesFromLegacyState(legacyDoc());
    expect(expected.length).toBe(2);
    for (const slice of expected) expect(await store.read(slice)).toEqual(liveOnly(slice));
    expect(await readAllSlices(store, 10)).toEqual(
      [...expected].sort((a, b) => (a.scope < b.scope ? -1 : 1)).map(liveOnly),
    );
    for (const slice of expected)
      for (const fork of Object.values(slice.forks)) expect(await store.findFork(fork.id)).toEqual(fork);
    // The fields the first release did not have are filled in.
    expect((await store.findFork('f-009'))?.commitAfterSeq).toBe(1);
    expect(
      (await store.read({ scope: 'web', name: 'node-modules' })).volume?.versions['v-002'],
    ).toMatchObject({
      state: 'removing',
      leaseUntil: null,
      orderedAfterSeq: null,
    });
    // Everything in flight is due for a reconciler.
    const due = await store.claimDue({ now: 1_701_303_440_000, limit: 10 }, (s) => ({
      slice: s,
      result: `${s.scope}/${s.name}`,
    }));
    expect(due.sort()).toEqual(['api/cargo', 'web/node-modules']);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}.imported`, 'utf8')).toBe(readFileSync(LEGACY, 'utf8'));
    expect(importRecord(path)).toMatchObject({
      file,
      volumes: 2,
      forks: 6,
      by: '@cachevol/store-sqlite 0.0.0',
    });
    await store.close();
  });

  it('never imports a second time, even when the file could not be renamed', async () => {
    const { path, file, open } = setUp();
    writeFileSync(`${file}.imported`, 'an older backup');
    const store = open();
    await store.transact({ scope: 'web', name: 'node-modules' }, increment);
    await store.close();
    // The rename was skipped (the backup name was taken): the file is still there.
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(`${file}.imported`, 'utf8')).toBe('an older backup');
    const again = open();
    expect((await again.read({ scope: 'web', name: 'node-modules' })).volume?.counts.hit).toBe(3);
    await again.close();
    expect(importRecord(path)).not.toBeNull();
  });

  it('leaves an empty database and the file untouched when a volume cannot be stored', async () => {
    const doc = legacyDoc() as unknown as { forks: Record<string, Record<string, unknown>> };
    // A fork of the second volume ended at a time that is text: SQLite (STRICT tables) refuses
    // its row, after the first volume's rows were written.
    doc.forks['f-006'] = { ...doc.forks['f-006'], endedAt: 'yesterday' };
    const { path, file, open } = setUp(doc);
    const before = readFileSync(file);
    const error = await failure(open);
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/volume api\/cargo cannot be stored/);
    expect(error.message).toMatch(/Nothing was imported and the file was not changed/);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(`${file}.imported`)).toBe(false);
    expect(importRecord(path)).toBeNull();
    const empty = createSqliteStore({ path });
    expect(await empty.listVolumes()).toEqual({ slices: [], next: null });
    expect(await empty.findFork('f-001')).toBeNull();
    await empty.close();
    // Fixed, it imports.
    copyFileSync(LEGACY, file);
    const fixed = open();
    expect((await fixed.listVolumes()).slices.length).toBe(2);
    await fixed.close();
  });

  it('refuses a corrupt state.json, naming it, and never changes it', async () => {
    for (const [text, problem] of [
      ['{"schema": 1, "volumes": {', /is not valid JSON/],
      [JSON.stringify({ schema: 2, volumes: {}, forks: {} }), /schema 2, and this cachevol imports schema 1/],
      [JSON.stringify({ schema: 1, volumes: { x: { scope: 'a' } }, forks: {} }), /has no scope and name/],
    ] as const) {
      const { path, file, open } = setUp(text);
      const error = await failure(open);
      expect(error.code).toBe('STORE_FAILED');
      expect(error.message).toContain(`The state file ${file} is corrupt`);
      expect(error.message).toMatch(problem);
      expect(error.message).toMatch(/\.bak/);
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(importRecord(path)).toBeNull();
    }
  });

  it('refuses to open when the database has data and a state.json was never imported', async () => {
    const { path, file } = setUp();
    const store = createSqliteStore({ path });
    await store.transact({ scope: 'x', name: 'y' }, increment);
    await store.close();
    const error = await failure(() => createSqliteStore({ path, importFrom: file }));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(/Both the SQLite database .* and the state file .* hold cachevol state/);
    expect(error.message).toMatch(/move .*state\.json aside/);
    expect(existsSync(file)).toBe(true);
  });

  it('opens normally when there is nothing to import', async () => {
    const path = join(dir(), 'state.db');
    const store = createSqliteStore({ path, importFrom: join(dir(), 'missing.json') });
    expect(await store.listVolumes()).toEqual({ slices: [], next: null });
    await store.close();
    expect(importRecord(path)).toBeNull();
  });

  it('imports once when several processes open the store at the same moment', async () => {
    const { path, file } = setUp();
    const fixture = fileURLToPath(new URL('./fixtures/open-store.mjs', import.meta.url));
    const key = { scope: 'web', name: 'node-modules' };
    const results = await runStoreWorkers(
      { module: fixture, config: { path, importFrom: file, busyTimeoutMs: PATIENT_BUSY_TIMEOUT_MS } },
      Array.from({ length: 5 }, () => ({ task: 'increment' as const, key, count: 2 })),
    );
    for (const r of results) expect(r.errors).toEqual([]);
    const store = createSqliteStore({ path, busyTimeoutMs: TEST_BUSY_TIMEOUT_MS });
    expect((await store.read(key)).volume?.counts.hit).toBe(2 + 10);
    await store.close();
    expect(existsSync(`${file}.imported`)).toBe(true);
  });
});
