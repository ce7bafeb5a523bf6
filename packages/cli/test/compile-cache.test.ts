import { execFile } from 'node:child_process';
import { chmod, chown, cp, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCacheDir, shortHash } from '../src/internal/compile-cache.js';
import { BIN, cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

// The compile cache of the `cachevol` command (src/internal/compile-cache.ts), through the
// built command: NODE_DEBUG=cachevol prints one line at exit, "compile cache DIR: N files
// from the cache, M written".

let base: string;
let cleanup: () => Promise<void>;
let count = 0;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('compile-cache'));
});
afterAll(() => cleanup());

interface Counted {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Files compiled from cached data, and files whose data was written; null: no cache used. */
  cache: { read: number; written: number } | null;
}

async function run(args: string[], cache: string, bin = BIN): Promise<Counted> {
  const work = join(base, `work-${++count}`);
  await mkdir(work, { recursive: true });
  const env = { CACHEVOL_COMPILE_CACHE: cache, NODE_DEBUG: 'cachevol' };
  const result =
    bin === BIN
      ? await cachevol(['--root', join(base, 'root'), ...args], { cwd: work, env })
      : await promisify(execFile)(process.execPath, [bin, ...args], {
          cwd: work,
          env: { ...process.env, ...env },
        }).then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }));
  const line = result.stderr.match(/compile cache \S+: (\d+) files from the cache, (\d+) written/);
  return {
    code: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    cache: line ? { read: Number(line[1]), written: Number(line[2]) } : null,
  };
}

/** Every file under `dir`, relative to it. */
async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

const RUN = ['run', '--name', 'deps', '--cache', 'deps', '--', 'true'];

describe('the compile cache of the cachevol command', () => {
  it('is written by the first run of a command and read by the next, which writes nothing', async () => {
    const cache = join(base, 'cache-first');
    const first = await run(RUN, cache);
    expect(first.code).toBe(0);
    expect(first.cache?.read).toBe(0);
    expect(first.cache?.written).toBeGreaterThan(3);
    const written = await files(cache);
    expect(written.filter((file) => /\.run\.\w+$/.test(file))).toHaveLength(first.cache?.written ?? -1);
    expect(written.some((file) => /[\\/]main\.cjs\.run\.\w{11}$/.test(file))).toBe(true);

    const second = await run(RUN, cache);
    expect(second.code).toBe(0);
    expect(second.cache).toEqual({ read: first.cache?.written, written: 0 });
    expect(second.stderr).toContain('default/deps: hit');
    expect(await files(cache)).toEqual(written);
  });

  it('keeps one set of files per command: `ls` after `run` writes its own', async () => {
    const cache = join(base, 'cache-commands');
    await run(RUN, cache);
    const ls = await run(['ls', '--json'], cache);
    expect(ls.code).toBe(0);
    expect(ls.cache?.read).toBe(0);
    expect(ls.cache?.written).toBeGreaterThan(0);
    expect((await files(cache)).filter((file) => /\.ls\.\w+$/.test(file))).toHaveLength(
      ls.cache?.written ?? -1,
    );
    expect((await run(['ls', '--json'], cache)).cache?.written).toBe(0);
  });

  it('replaces a file V8 rejects (garbage) and gives the same output as without the cache', async () => {
    const cache = join(base, 'cache-garbage');
    await run(['ls', '--json'], cache);
    const [main] = (await files(cache)).filter((file) => /main\.cjs\.ls\.\w+$/.test(file));
    expect(main).toBeDefined();
    await writeFile(join(cache, main as string), 'not V8 code cache data at all');
    const again = await run(['ls', '--json'], cache);
    expect(again.code).toBe(0);
    expect(again.cache?.written).toBe(1);
    expect((await stat(join(cache, main as string))).size).toBeGreaterThan(1000);
    const off = await run(['ls', '--json'], 'off');
    expect(off.cache).toBeNull();
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(off.stdout));
  });

  it('is not used in a directory that others can write or another user owns, and the command still runs', async () => {
    const open = join(base, 'cache-open');
    await mkdir(open, { mode: 0o777 });
    await chmod(open, 0o777);
    const inOpen = await run(['ls', '--json'], open);
    expect([inOpen.code, inOpen.cache]).toEqual([0, null]);
    expect(await files(open)).toEqual([]);

    if (process.getuid?.() !== 0) return; // chown needs root; the mode check above ran anyway
    const theirs = join(base, 'cache-theirs');
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, 65534, 65534);
    const inTheirs = await run(['ls', '--json'], theirs);
    expect([inTheirs.code, inTheirs.cache]).toEqual([0, null]);
    expect(await files(theirs)).toEqual([]);
  });

  it('is off with CACHEVOL_COMPILE_CACHE=off or a relative path', async () => {
    const off = await run(['ls', '--json'], 'off');
    expect([off.code, off.cache]).toEqual([0, null]);
    const relative = await run(['ls', '--json'], 'relative/cache');
    expect([relative.code, relative.cache]).toEqual([0, null]);
    expect(await readdir(join(base, `work-${count}`))).toEqual([]);
  });

  it('drops the files of an older build of the same installation when a new build writes its own', async () => {
    const dist = join(base, 'dist');
    await cp(join(BIN, '..'), dist, { recursive: true });
    const bin = join(dist, 'cli.cjs');
    const cache = join(base, 'cache-builds');
    const old = await run(['--version'], cache, bin);
    expect(old.cache?.written).toBeGreaterThan(0);
    const [oldSet] = await readdir(cache);
    const later = new Date(Date.now() + 60_000);
    await utimes(join(dist, 'cli', 'main.cjs'), later, later); // what a rebuild changes
    const rebuilt = await run(['--version'], cache, bin);
    expect(rebuilt.stdout).toBe(old.stdout);
    expect(rebuilt.cache).toEqual({ read: 0, written: old.cache?.written });
    const sets = await readdir(cache);
    expect(sets).toHaveLength(1);
    expect(sets).not.toContain(oldSet);
  });
});

describe('the compile cache of a file changed in place', () => {
  it('does not use the data of a chunk whose file changed after it was written', async () => {
    const dist = join(base, 'dist-edited');
    await cp(join(BIN, '..'), dist, { recursive: true });
    const bin = join(dist, 'cli.cjs');
    const cache = join(base, 'cache-edited');
    const first = await run(['--version'], cache, bin);
    const written = first.cache?.written ?? 0;
    expect(written).toBeGreaterThan(1);
    const chunk = (await files(cache))
      .map((file) => file.replace(/^.*[\\/]/, '').replace(/\.other\.\w+$/, ''))
      .find((name) => name !== 'main.cjs');
    const later = new Date(Date.now() + 60_000);
    await utimes(join(dist, 'cli', chunk as string), later, later);
    expect((await run(['--version'], cache, bin)).cache).toEqual({ read: written - 1, written: 1 });
  });
});

describe('compileCacheDir', () => {
  it('takes CACHEVOL_COMPILE_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(compileCacheDir({ CACHEVOL_COMPILE_CACHE: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/cachevol/compile');
    expect(compileCacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/[\\/]\.cache[\\/]cachevol[\\/]compile$/);
    expect(compileCacheDir({})).toMatch(/[\\/]\.cache[\\/]cachevol[\\/]compile$/);
    for (const off of ['off', 'OFF', '0', 'false', 'no', 'relative/dir'])
      expect(compileCacheDir({ CACHEVOL_COMPILE_CACHE: off })).toBeNull();
  });

  it('names sets with a stable hash of 11 base-36 digits that tells inputs apart', () => {
    expect(shortHash('v20\0x64')).toBe(shortHash('v20\0x64'));
    expect(shortHash('v20\0x64')).not.toBe(shortHash('v20\0arm64'));
    expect(shortHash('')).toMatch(/^[0-9a-z]{11}$/);
  });
});
