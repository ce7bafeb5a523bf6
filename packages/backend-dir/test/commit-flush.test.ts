import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirBackend } from '../src/index.js';
import { smallTree } from '../src/internal/measure.js';
import { tempDir } from './helpers.js';

const fork = { capacityBytes: 1 << 30 };

/** The first `name` on PATH. */
function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not on PATH`);
}

describe.runIf(process.platform === 'linux')('how a commit flushes a fork', () => {
  const savedPath = process.env.PATH;
  let bin: string;
  let log: string;

  // A `sync` first on PATH that writes its arguments to a log, then runs the real one (kept for
  // the whole suite: tempDir() removes its directories after each test).
  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), 'cachevol-test-sync-shim-'));
    log = join(bin, 'sync.log');
    const shim = join(bin, 'sync');
    writeFileSync(
      shim,
      [
        `#!${process.execPath}`,
        `require('node:fs').appendFileSync(${JSON.stringify(log)}, process.argv.slice(2).join(' ') + '\\n');`,
        `const r = require('node:child_process').spawnSync(${JSON.stringify(onPath('sync'))}, process.argv.slice(2), { stdio: 'inherit' });`,
        'process.exit(r.status ?? 1);',
      ].join('\n'),
    );
    chmodSync(shim, 0o755);
    process.env.PATH = `${bin}${delimiter}${savedPath}`;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
    rmSync(bin, { recursive: true, force: true });
  });
  const syncRuns = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);

  it('flushes a fork of a few entries in this process, starting no `sync`', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const { mountPath } = await backend.createFork('f-small', fork);
    await mkdir(join(mountPath, 'deps'));
    await writeFile(join(mountPath, 'deps', 'a'), 'hello');
    const before = syncRuns().length;
    expect(await backend.commitFork('f-small', 'v-small')).toEqual({ usedBytes: 5 });
    expect(syncRuns().length).toBe(before);
    expect((await backend.list()).map((e) => `${e.kind}:${e.id}`)).toEqual(['version:v-small']);
  });

  it('flushes a fork of more than 64 entries with one `sync -f`', async () => {
    const backend = createDirBackend({ root: tempDir() });
    const { mountPath } = await backend.createFork('f-large', fork);
    for (let i = 0; i < 70; i++) await writeFile(join(mountPath, `file-${i}`), 'x');
    const before = syncRuns().length;
    expect(await backend.commitFork('f-large', 'v-large')).toEqual({ usedBytes: 70 });
    const runs = syncRuns().slice(before);
    expect(runs).toEqual([`-f -- ${join(backend.root, 'forks', 'f-large')}`]);
  });
});

describe('smallTree', () => {
  it('lists the directories (root first) and files to flush, each hard-linked file once, and measures like measureTree', async () => {
    const root = tempDir();
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'd', 'f'), '12345');
    await link(join(root, 'd', 'f'), join(root, 'hard'));
    await symlink('d/f', join(root, 'link'));
    const tree = await smallTree(root, 5);
    expect(tree?.usedBytes).toBe(5 + 'd/f'.length);
    expect(tree?.flush[0]).toEqual({ path: root, isDirectory: true });
    expect(tree?.flush.filter((e) => e.isDirectory).map((e) => e.path)).toEqual([root, join(root, 'd')]);
    expect(tree?.flush.filter((e) => !e.isDirectory)).toHaveLength(1);
  });

  it('is null for a tree of more entries than asked (the root counts)', async () => {
    const root = tempDir();
    for (const name of ['a', 'b', 'c']) await writeFile(join(root, name), '');
    expect(await smallTree(root, 3)).toBeNull();
    expect(await smallTree(root, 4)).not.toBeNull();
  });
});
