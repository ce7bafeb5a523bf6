import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CacheVolumeEvents, CacheVolumes } from '@cachevol/core';
import { checkEngineModel, nodeFileAccess } from '@cachevol/core/testing';
import { createSqliteStore } from '@cachevol/store-sqlite';
import { describe, expect, it } from 'vitest';
import { createDirBackend, type DirBackend } from '../src/index.js';
import { tempDir } from './helpers.js';

function engine(dir: string) {
  const backend = createDirBackend({ root: join(dir, 'volumes') });
  const store = createSqliteStore({ path: join(dir, 'state.db') });
  return { backend, store, volumes: new CacheVolumes({ backend, store, host: 'host-a' }) };
}

describe('CacheVolumes over the dir backend and the SQLite store', () => {
  it('commits on success, serves the commit to the next attach, and abandons a failed job', async () => {
    const dir = tempDir();
    const { backend, volumes } = engine(dir);
    const progress: CacheVolumeEvents['progress'][] = [];
    volumes.on('progress', (event) => progress.push(event));

    const first = await volumes.attach('deps', { scope: 'pipeline', job: 'build-1' });
    expect(first.result).toBe('miss');
    await writeFile(join(first.mountPath, 'lock.txt'), 'v1');
    expect((await first.finish(0)).action).toBe('committed');

    const second = await volumes.attach('deps', { scope: 'pipeline', job: 'build-2' });
    expect(second.result).toBe('hit');
    expect(await readFile(join(second.mountPath, 'lock.txt'), 'utf8')).toBe('v1');
    expect(progress.some((p) => p.forkId === second.id && p.doneBytes === 2 && p.totalBytes === 2)).toBe(
      true,
    );
    await writeFile(join(second.mountPath, 'lock.txt'), 'broken');
    expect((await second.finish(1)).action).toBe('abandoned');
    expect((await backend.list()).filter((e) => e.kind === 'fork')).toEqual([]);

    // Another process (a new engine and store object on the same files) sees the same head.
    const other = engine(dir).volumes;
    const third = await other.attach('deps', { scope: 'pipeline', job: 'build-3' });
    expect(third.result).toBe('hit');
    expect(await readFile(join(third.mountPath, 'lock.txt'), 'utf8')).toBe('v1');
    await third.abandon();
    expect((await other.stats()).find((s) => s.name === 'deps')?.counts).toEqual({
      hit: 2,
      stale: 0,
      miss: 1,
    });
  });

  it('skips the commit of an unchanged fork in on-change mode', async () => {
    const { volumes } = engine(tempDir());
    const first = await volumes.attach('deps', { scope: 'pipeline' });
    await writeFile(join(first.mountPath, 'a'), 'a');
    await first.finish(0);
    const unchanged = await volumes.attach('deps', { scope: 'pipeline', commit: 'on-change' });
    expect(await unchanged.finish(0)).toEqual({ action: 'skipped', version: null });
    const changed = await volumes.attach('deps', { scope: 'pipeline', commit: 'on-change' });
    await writeFile(join(changed.mountPath, 'b'), 'b');
    expect((await changed.finish(0)).action).toBe('committed');
  });

  it('reconcile reports what no record owns, and removes it only when asked', async () => {
    const dir = tempDir();
    const { backend, volumes } = engine(dir);
    const fork = await volumes.attach('deps', { scope: 'pipeline' });
    await writeFile(join(fork.mountPath, 'a'), 'a');
    await fork.commit();
    // Leftovers of a crash: a half-built fork copy and a half-removed version nobody records.
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join((backend as DirBackend).root, 'tmp', 'fork.f-crashed.0123456789ab', 'x'), {
      recursive: true,
    });
    await mkdir(join((backend as DirBackend).root, 'trash', 'version.v-gone.0123456789ab'), {
      recursive: true,
    });
    const kept = await volumes.reconcile();
    expect(kept.leftovers).toEqual([]);
    expect(kept.unaccounted.map((e) => `${e.kind}:${e.id}`).sort()).toEqual([
      'fork:f-crashed',
      'version:v-gone',
    ]);
    expect((await backend.list()).length).toBe(3);
    const report = await volumes.reconcile({ removeUnaccounted: true });
    expect(report.leftovers.map((e) => `${e.kind}:${e.id}`).sort()).toEqual([
      'fork:f-crashed',
      'version:v-gone',
    ]);
    expect(await readdir(join(backend.root, 'tmp'))).toEqual([]);
    expect(await readdir(join(backend.root, 'trash'))).toEqual([]);
    expect((await backend.list()).map((e) => e.kind)).toEqual(['version']);
  });

  it('matches the reference model, crashes and reconcile included', async () => {
    await checkEngineModel({
      createBackend: () => createDirBackend({ root: join(tempDir(), 'volumes') }),
      createStore: () => createSqliteStore({ path: join(tempDir(), 'state.db') }),
      files: nodeFileAccess,
      numRuns: 15,
    });
  }, 120_000);
});
