import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { linkPath, linkPaths, unlinkPaths } from '../src/link.js';
import { tempDir } from './helpers/cli.js';

let dir: string;
let cleanup: () => Promise<void>;
let work: string;
let forks: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('link'));
  work = join(dir, 'work');
  forks = join(dir, 'forks');
  await mkdir(work, { recursive: true });
  await mkdir(join(forks, 'f1'), { recursive: true });
  await mkdir(join(forks, 'f2'), { recursive: true });
});
afterEach(() => cleanup());

const req = (path: string, fork = 'f1', sub = path) => ({
  linkPath: join(work, path),
  target: join(forks, fork, sub),
  within: work,
});

describe('linkPath', () => {
  it('creates the fork sub-directory and a symlink to it, with parents', async () => {
    const result = await linkPath(req('vendor/bundle'));
    expect(result.action).toBe('created');
    expect(await readlink(join(work, 'vendor/bundle'))).toBe(join(forks, 'f1', 'vendor/bundle'));
    await writeFile(join(work, 'vendor/bundle/x'), 'data');
    expect(await readFile(join(forks, 'f1', 'vendor/bundle/x'), 'utf8')).toBe('data');
  });

  it('is idempotent: the same link again changes nothing', async () => {
    await linkPath(req('node_modules'));
    const again = await linkPath(req('node_modules'));
    expect(again.action).toBe('unchanged');
    expect(await readlink(join(work, 'node_modules'))).toBe(join(forks, 'f1', 'node_modules'));
  });

  it('replaces an empty directory silently', async () => {
    await mkdir(join(work, 'node_modules'));
    expect((await linkPath(req('node_modules'))).action).toBe('created');
    expect((await lstat(join(work, 'node_modules'))).isSymbolicLink()).toBe(true);
  });

  it('relinks our own link into another fork, and a dangling link', async () => {
    await linkPath(req('node_modules', 'f1'), { ownedPrefix: forks });
    const moved = await linkPath(req('node_modules', 'f2'), { ownedPrefix: forks });
    expect(moved.action).toBe('relinked');
    expect(await readlink(join(work, 'node_modules'))).toBe(join(forks, 'f2', 'node_modules'));
    await symlink(join(dir, 'gone'), join(work, 'dangling'));
    expect((await linkPath(req('dangling'))).action).toBe('relinked');
  });

  it('refuses a non-empty directory, a file and a foreign link without --replace, touching nothing', async () => {
    await mkdir(join(work, 'full'));
    await writeFile(join(work, 'full/keep'), 'mine');
    await writeFile(join(work, 'file'), '');
    await mkdir(join(dir, 'elsewhere'));
    await symlink(join(dir, 'elsewhere'), join(work, 'foreign'));
    for (const [path, what] of [
      ['full', 'a non-empty directory'],
      ['file', 'a file'],
      ['foreign', 'a symlink to somewhere else'],
    ] as const) {
      const error = await linkPath(req(path), { ownedPrefix: forks }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ALREADY_EXISTS' });
      expect(String((error as Error).message)).toContain(what);
      expect(String((error as Error).message)).toContain('--replace');
    }
    expect(await readFile(join(work, 'full/keep'), 'utf8')).toBe('mine');
    expect(await readlink(join(work, 'foreign'))).toBe(join(dir, 'elsewhere'));
  });

  it('with replace, moves what is in the way aside (never deletes it)', async () => {
    await mkdir(join(work, 'full'));
    await writeFile(join(work, 'full/keep'), 'mine');
    const result = await linkPath(req('full'), { replace: true, now: () => 42 });
    expect(result).toMatchObject({ action: 'moved-aside', movedTo: join(work, 'full.cachevol-replaced-42') });
    expect(await readFile(join(work, 'full.cachevol-replaced-42/keep'), 'utf8')).toBe('mine');
    expect((await lstat(join(work, 'full'))).isSymbolicLink()).toBe(true);
  });

  it('refuses links outside `within` and parents that leave it through a symlink', async () => {
    const outside = { linkPath: join(dir, 'x'), target: join(forks, 'f1', 'x'), within: work };
    await expect(linkPath(outside)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(linkPath({ ...outside, linkPath: work })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await mkdir(join(dir, 'etc'));
    await symlink(join(dir, 'etc'), join(work, 'vendor'));
    await expect(linkPath(req('vendor/bundle'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await readdir(join(dir, 'etc'))).toEqual([]);
  });

  it('refuses a parent that is a file', async () => {
    await writeFile(join(work, 'vendor'), '');
    await expect(linkPath(req('vendor/bundle'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });
});

describe('unlinkPaths', () => {
  it('removes only links that still point where we made them', async () => {
    const links = await linkPaths([req('a'), req('b')]);
    await (await import('node:fs/promises')).unlink(join(work, 'b'));
    await mkdir(join(work, 'b'));
    expect(await unlinkPaths(links)).toEqual([join(work, 'a')]);
    expect(existsSync(join(work, 'a'))).toBe(false);
    expect((await lstat(join(work, 'b'))).isDirectory()).toBe(true);
    expect(existsSync(join(forks, 'f1', 'a'))).toBe(true);
  });
});
