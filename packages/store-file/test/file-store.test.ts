import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CacheVolumeError, emptyState, isCacheVolumeError, type State } from '@cachevol/core';
import { lock } from 'proper-lockfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStore } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cachevol-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A state whose `volumes` carries a counter, to observe updates. */
const withCounter = (state: State, n: number): State => ({
  ...state,
  volumes: {
    ...state.volumes,
    counter: {
      scope: 's',
      name: 'n',
      seq: n,
      versions: {},
      versionIds: [],
      counts: { hit: 0, stale: 0, miss: 0 },
      lastUsedAt: 0,
    },
  },
});
const counterOf = (state: State): number => state.volumes.counter?.seq ?? 0;
const increment = (state: State) => ({
  state: withCounter(state, counterOf(state) + 1),
  result: counterOf(state) + 1,
});

async function caught(promise: Promise<unknown>): Promise<CacheVolumeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCacheVolumeError(error)) throw new Error(`expected a CacheVolumeError, got ${String(error)}`);
  return error;
}

describe('createFileStore', () => {
  it('reads an empty state when the file does not exist, creating nothing', async () => {
    const path = join(dir, 'nested', 'state.json');
    const store = createFileStore({ path });
    expect(store.path).toBe(path);
    expect(await store.read()).toEqual(emptyState());
    expect(existsSync(join(dir, 'nested'))).toBe(false);
  });

  it('writes updates as JSON, creating the directory, and returns the result', async () => {
    const path = join(dir, 'nested', 'state.json');
    const store = createFileStore({ path });
    expect(await store.update(increment)).toBe(1);
    expect(await store.update(increment)).toBe(2);
    expect(counterOf(await store.read())).toBe(2);
    expect(counterOf(JSON.parse(readFileSync(path, 'utf8')))).toBe(2);
    expect(counterOf(await createFileStore({ path }).read())).toBe(2);
    expect((await readdir(join(dir, 'nested'))).sort()).toEqual(['state.json', 'state.json.bak']);
  });

  it('keeps the previous good state as .bak', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStore({ path });
    await store.update(increment);
    expect(existsSync(`${path}.bak`)).toBe(false);
    await store.update(increment);
    expect(counterOf(JSON.parse(readFileSync(`${path}.bak`, 'utf8')))).toBe(1);
  });

  it('changes nothing when the update function throws', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStore({ path });
    await store.update(increment);
    const before = readFileSync(path, 'utf8');
    await expect(
      store.update(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(await store.update(increment)).toBe(2);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('does not rewrite the file when the state is unchanged', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStore({ path });
    await store.update(increment);
    await store.update(increment);
    const bak = readFileSync(`${path}.bak`, 'utf8');
    expect(await store.update((state) => ({ state, result: 'same' }))).toBe('same');
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe(bak);
  });

  it('refuses a corrupt state file with STORE_FAILED naming it, and never replaces it', async () => {
    const path = join(dir, 'state.json');
    for (const bad of [
      '{"schema":1,"volumes":{',
      '[]',
      '{"schema":2,"volumes":{},"forks":{}}',
      '{"schema":1,"forks":{}}',
    ]) {
      writeFileSync(path, bad);
      const store = createFileStore({ path });
      for (const error of [await caught(store.read()), await caught(store.update(increment))]) {
        expect(error.code).toBe('STORE_FAILED');
        expect(error.message).toContain(path);
        expect(error.message).toContain(`${path}.bak`);
      }
      expect(readFileSync(path, 'utf8')).toBe(bad);
    }
  });

  it('refuses an update function that returns no valid state', async () => {
    const store = createFileStore({ path: join(dir, 'state.json') });
    const error = await caught(store.update(() => ({ state: { schema: 1 } as unknown as State, result: 0 })));
    expect(error.code).toBe('INTERNAL');
  });

  it('runs concurrent updates of one process one at a time', async () => {
    const path = join(dir, 'state.json');
    const a = createFileStore({ path });
    const b = createFileStore({ path });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).update(increment)),
    );
    expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(counterOf(await a.read())).toBe(20);
  });

  it('waits for a held lock and fails with STORE_FAILED after lockTimeoutMs', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStore({ path, lockTimeoutMs: 300 });
    const unlock = await lock(path, { realpath: false });
    try {
      const started = Date.now();
      const error = await caught(store.update(increment));
      expect(error.code).toBe('STORE_FAILED');
      expect(error.message).toContain(`${path}.lock`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(await store.read()).toEqual(emptyState());
    } finally {
      await unlock();
    }
    expect(await store.update(increment)).toBe(1);
  });

  it('takes a held lock as soon as it is released', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStore({ path });
    const unlock = await lock(path, { realpath: false });
    const waiting = store.update(increment);
    await new Promise((r) => setTimeout(r, 50));
    await unlock();
    expect(await waiting).toBe(1);
  });

  it('takes over a stale lock left by a crashed process', async () => {
    const path = join(dir, 'state.json');
    mkdirSync(`${path}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    const started = Date.now();
    expect(await createFileStore({ path, lockTimeoutMs: 2_000 }).update(increment)).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('deletes temporary files that crashed writers left, and nothing else', async () => {
    const path = join(dir, 'state.json');
    writeFileSync(`${path}.4242.0123456789ab.tmp`, '{"half":');
    writeFileSync(`${path}.bak.4242.0123456789ab.tmp`, '{}');
    writeFileSync(join(dir, 'unrelated.tmp'), 'keep');
    writeFileSync(`${path}.notes`, 'keep');
    await createFileStore({ path }).update(increment);
    expect((await readdir(dir)).sort()).toEqual(['state.json', 'state.json.notes', 'unrelated.tmp']);
  });

  it('fails with STORE_FAILED when the state file cannot be written', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const error = await caught(createFileStore({ path: join(file, 'state.json') }).update(increment));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain(join(file, 'state.json'));
  });

  it('names the option in INVALID_ARGUMENT errors', () => {
    for (const bad of [{ path: '' }, { path: 'x', lockTimeoutMs: -1 }, { path: 'x', extra: 1 }]) {
      expect(() => createFileStore(bad as never)).toThrow(/Invalid createFileStore options/);
    }
  });
});
