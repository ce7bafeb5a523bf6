import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

// The bundle inlines @cachevol/core together with every backend and store. Were a second copy
// of core in the process (a backend or store loaded from node_modules beside an inlined core),
// its errors would fail the CLI's `instanceof CacheVolumeError` and print as
// `cachevol: INTERNAL: ...`, and `run` would fail instead of going on uncached.

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('errors'));
});
afterAll(() => cleanup());

async function sandbox(name: string) {
  const root = join(base, name, 'root');
  const work = join(base, name, 'work');
  await mkdir(work, { recursive: true });
  const run = (args: string[]) => cachevol(['--root', root, ...args], { cwd: work });
  return { root, work, run };
}

describe('errors thrown by a backend or a store are recognised by the bundled CLI', () => {
  it('backend-dir: NOT_FOUND for a fork whose data is gone', async () => {
    const { root, run } = await sandbox('dir');
    const attached = await run(['attach', 'deps', '--path', 'deps']);
    expect(attached.code, attached.stderr).toBe(0);
    const fork = attached.stdout.trim();
    await rm(join(root, 'data', 'forks', fork), { recursive: true, force: true });
    const commit = await run(['commit', fork]);
    expect(commit.stderr).toMatch(/^cachevol: NOT_FOUND: The dir backend has no fork/);
    expect(commit.code).toBe(1);
  });

  it.each([
    ['btrfs', [], /^cachevol: BACKEND_UNAVAILABLE: /],
    ['zfs', ['--dataset', 'cachevol-test-no-such-pool/cv'], /^cachevol: BACKEND_UNAVAILABLE: /],
  ])('backend-%s: BACKEND_UNAVAILABLE where it cannot work', async (backend, extra, expected) => {
    const { run } = await sandbox(backend);
    const attach = await run(['attach', 'deps', '--path', 'deps', '--backend', backend, ...extra]);
    expect(attach.stderr).toMatch(expected);
    expect(attach.code).toBe(1);
  });

  it.runIf(process.platform !== 'darwin')('backend-sparsebundle: BACKEND_UNAVAILABLE off macOS', async () => {
    const { run } = await sandbox('sparsebundle');
    const attach = await run(['attach', 'deps', '--path', 'deps', '--backend', 'sparsebundle']);
    expect(attach.stderr).toMatch(/^cachevol: BACKEND_UNAVAILABLE: The sparsebundle backend needs macOS/);
    expect(attach.code).toBe(1);
  });

  it('store-sqlite: STORE_FAILED for a state.db that is not a database, and run goes on uncached', async () => {
    const { root, run } = await sandbox('sqlite');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'state.db'), 'not a database\n');
    const ls = await run(['ls']);
    expect(ls.stderr).toMatch(/^cachevol: STORE_FAILED: SQLite store .* SQLITE_NOTADB/);
    expect(ls.code).toBe(1);
    const job = await run(['run', '--name', 'deps', '--cache', 'deps', '--', 'sh', '-c', 'exit 3']);
    expect(job.stderr).toMatch(/warning: running without the cache: SQLite store/);
    expect(job.code).toBe(3);
  });

  it('store-postgres: STORE_FAILED when nothing listens', async () => {
    const { run } = await sandbox('postgres');
    const ls = await run(['ls', '--store', 'postgres://cachevol@127.0.0.1:1/cachevol']);
    expect(ls.stderr).toMatch(/^cachevol: STORE_FAILED: Cannot connect to PostgreSQL/);
    expect(ls.code).toBe(1);
  });
});
