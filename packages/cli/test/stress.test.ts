import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headOf } from '@cachevol/core';
import { readAllSlices } from '@cachevol/core/testing';
import { createSqliteStore } from '@cachevol/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit } from '../../../test-support/run.js';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

const WORKERS = 8;
const CYCLES = 50;
const VOLUMES = 3;
const WORKER = fileURLToPath(new URL('./fixtures/stress-worker.mjs', import.meta.url));

interface Commit {
  name: string;
  versionId: string;
  seq: number;
  forkId: string;
}

let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('stress'));
});
afterAll(() => cleanup());

interface Read {
  versionId: string;
  owner: string;
}

async function worker(
  root: string,
  id: number,
): Promise<{ commits: Commit[]; reads: Read[]; abandoned: number; failed: number }> {
  const { code, stdout, stderr } = await runToExit(
    process.execPath,
    [WORKER, root, String(id), String(CYCLES), String(VOLUMES)],
    { env: process.env },
  );
  if (code !== 0) throw new Error(`worker ${id} exited ${code}: ${stderr}`);
  return JSON.parse(stdout);
}

describe('multi-process stress through the SQLite store', () => {
  it(`${WORKERS} processes x ${CYCLES} attach/commit/abandon cycles, with gc running meanwhile: every invariant holds`, async () => {
    const root = join(base, 'root');
    // The workers' host name (fixtures/stress-worker.mjs): one host, one name, or a removal by
    // gc under another name would leave the version recorded for "stress-host" to remove.
    const env = { CACHEVOL_ROOT: root, CACHEVOL_HOST: 'stress-host' };
    const workers = Array.from({ length: WORKERS }, (_, id) => worker(root, id));
    // gc runs alongside the jobs: it must never take a live fork's data or an owned version.
    let gcRuns = 0;
    let done = false;
    const gcLoop = (async () => {
      while (!done) {
        const gc = await cachevol(['gc', '--json'], { cwd: base, env });
        expect(gc.code, gc.stderr).toBe(0);
        expect(JSON.parse(gc.stdout)).toMatchObject({ expiredForks: [], leftovers: [], unaccounted: [] });
        gcRuns++;
      }
    })();
    const results = await Promise.all(workers).finally(() => {
      done = true;
    });
    await gcLoop;
    expect(gcRuns).toBeGreaterThan(0);

    const store = createSqliteStore({ path: join(root, 'state.db') });
    const slices = await readAllSlices(store);
    const commits = results.flatMap((r) => r.commits);
    const abandoned = results.reduce((n, r) => n + r.abandoned + r.failed, 0);
    expect(commits.length + abandoned).toBe(WORKERS * CYCLES);
    expect(commits.length).toBeGreaterThan(WORKERS * CYCLES * 0.4);

    // A fork of a version saw exactly what that version's committing fork wrote.
    const committedBy = new Map(commits.map((c) => [c.versionId, c.forkId]));
    const reads = results.flatMap((r) => r.reads);
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read.owner).toBe(committedBy.get(read.versionId));

    // No live forks left, and every fork ended the way its process said.
    expect(slices.flatMap((s) => Object.values(s.forks))).toEqual([]);
    for (const c of commits)
      expect(await store.findFork(c.forkId)).toMatchObject({ state: 'committed', versionId: c.versionId });

    let attaches = 0;
    for (const { volume } of slices) {
      if (!volume) continue;
      const mine = commits.filter((c) => c.name === volume.name).sort((a, b) => a.seq - b.seq);
      // No commit lost: every kept version is a successful commit, and the newest two (the head
      // and the one before it, what the default retention keeps) are kept; older ones were
      // superseded and removed after later commits, unless a live fork held them then.
      const committed = new Set(mine.map((c) => c.versionId));
      for (const id of Object.keys(volume.versions)) expect(committed.has(id), id).toBe(true);
      for (const c of mine.slice(-2)) expect(Object.keys(volume.versions)).toContain(c.versionId);
      expect(new Set(mine.map((c) => c.seq)).size).toBe(mine.length);
      // The head is the last committed (highest seq), and its files are that fork's.
      const head = headOf(volume);
      expect(head?.id).toBe(mine.at(-1)?.versionId);
      const owner = await readFile(join(root, 'data/versions', head?.id as string, 'owner'), 'utf8');
      expect(owner).toBe(mine.at(-1)?.forkId);
      attaches += volume.counts.hit + volume.counts.stale + volume.counts.miss;
    }
    // Every attach was counted once.
    expect(attaches).toBe(WORKERS * CYCLES);
    await store.close();

    // After a final gc, no directory is left that no record owns.
    const gc = await cachevol(['gc', '--json'], { cwd: base, env });
    expect(gc.code, gc.stderr).toBe(0);
    const versions = slices.flatMap((s) => Object.keys(s.volume?.versions ?? {}));
    expect((await readdir(join(root, 'data/versions'))).sort()).toEqual(versions.sort());
    for (const area of ['forks', 'tmp', 'trash']) {
      expect(await readdir(join(root, 'data', area)).catch(() => [])).toEqual([]);
    }
    // Nothing else beside the data: the database (and SQLite's -wal and -shm while it is open).
    expect((await readdir(root)).filter((name) => !/^state\.db(-wal|-shm)?$/.test(name))).toEqual(['data']);
  }, 180_000);
});
