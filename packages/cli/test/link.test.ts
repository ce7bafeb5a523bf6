import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirBackend } from '@cachevol/backend-dir';
import { CacheVolumes, createMemoryStore, type ForkHandle, type LinkOptions } from '@cachevol/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/cli.js';

/** `ForkHandle.link` on the dir backend, with both link methods (bind mounts need root). */

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('link.test.ts: CI runs as root, for bind mounts');

let dir: string;
let cleanup: () => Promise<void>;
let work: string;
let outside: string;
let engine: CacheVolumes;

/** Mount points under `root`, deepest first (what a test left must not outlive it). */
function mountsUnder(root: string): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${root}/`))
    .sort()
    .reverse();
}

function isMountPoint(path: string): boolean {
  return mountsUnder(dir).includes(path);
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('link'));
  work = join(dir, 'work');
  outside = join(dir, 'outside');
  await mkdir(work, { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'precious'), 'keep');
  engine = newEngine('h');
});
afterEach(async () => {
  for (const point of mountsUnder(dir)) execFileSync('umount', ['-l', point]);
  await cleanup();
});

function newEngine(host: string, store = createMemoryStore()) {
  return new CacheVolumes({ backend: createDirBackend({ root: join(dir, 'data') }), store, host });
}

const methods: NonNullable<LinkOptions['method']>[] = isRoot ? ['symlink', 'bind'] : ['symlink'];

describe.each(methods)('ForkHandle.link by %s', (method) => {
  const options = (extra: Partial<LinkOptions> = {}): LinkOptions => ({
    workdir: work,
    instanceRoot: dir,
    method,
    strict: true,
    ...extra,
  });

  it('links relative and absolute paths, commits what was written, and undoes the links', async () => {
    const fork = await engine.attach('deps');
    const links = await fork.link(['node_modules', '/opt/tool'], options());
    expect(links.map((l) => [l.linkPath, l.method, l.action])).toEqual([
      [join(work, 'node_modules'), method, 'created'],
      [join(dir, 'opt/tool'), method, 'created'],
    ]);
    await writeFile(join(work, 'node_modules', 'a'), 'A');
    await writeFile(join(dir, 'opt/tool/b'), 'B');
    if (method === 'bind') expect(isMountPoint(join(work, 'node_modules'))).toBe(true);
    else expect(await readlink(join(work, 'node_modules'))).toBe(join(fork.mountPath, 'node_modules'));
    expect((await fork.link(['node_modules'], options()))[0]?.action).toBe('unchanged');

    const outcome = await fork.finish(0);
    expect(outcome.action).toBe('committed');
    expect(outcome.links?.map((l) => l.action)).toEqual(
      method === 'bind' ? ['unmounted', 'unmounted'] : ['removed', 'removed'],
    );
    expect(existsSync(join(work, 'node_modules'))).toBe(false);
    expect(mountsUnder(dir)).toEqual([]);

    const next = await engine.attach('deps');
    await next.link(['node_modules', '/opt/tool'], options());
    expect(await readFile(join(work, 'node_modules', 'a'), 'utf8')).toBe('A');
    expect(await readFile(join(dir, 'opt/tool/b'), 'utf8')).toBe('B');
    await next.abandon();
    expect(existsSync(join(work, 'node_modules'))).toBe(false);
  });

  it('links over an empty directory, and refuses, skips or moves aside what is in the way', async () => {
    await mkdir(join(work, 'empty'));
    await mkdir(join(work, 'full'));
    await writeFile(join(work, 'full', 'mine'), 'x');
    const fork = await engine.attach('deps');
    expect((await fork.link(['empty'], options()))[0]).toMatchObject({ action: 'created', method });
    await expect(fork.link(['full'], options())).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const [skipped] = await fork.link(['full'], options({ strict: false }));
    expect(skipped).toMatchObject({ action: 'skipped', method: null });
    expect(skipped?.problem).toMatch(/non-empty directory.*--replace/);
    expect(await readFile(join(work, 'full', 'mine'), 'utf8')).toBe('x');
    const [moved] = await fork.link(['full'], options({ replace: true }));
    expect(moved?.action).toBe('moved-aside');
    expect(await readFile(join(moved?.movedTo as string, 'mine'), 'utf8')).toBe('x');
    await fork.abandon();
    // An empty directory a bind mount went over stays; one a symlink replaced does not come back.
    expect(existsSync(join(work, 'empty'))).toBe(method === 'bind');
    expect(existsSync(join(work, 'full'))).toBe(false);
  });

  it('never follows a symlink that a committed version holds at a cache path (regression)', async () => {
    const first = await engine.attach('deps');
    await first.link(['node_modules', 'up', 'gone', 'nested/deep'], options());
    await first.finish(0);
    // What a job could have left in its fork: the sub-directories replaced by links.
    const [version] = await readdir(join(dir, 'data', 'versions'));
    const data = join(dir, 'data', 'versions', version as string);
    await rm(join(data, 'node_modules'), { recursive: true });
    await symlink(outside, join(data, 'node_modules'));
    await rm(join(data, 'up'), { recursive: true });
    await symlink('../..', join(data, 'up'));
    await rm(join(data, 'gone'), { recursive: true });
    await symlink(join(dir, 'no-such-dir'), join(data, 'gone'));
    await rm(join(data, 'nested'), { recursive: true });
    await symlink(outside, join(data, 'nested'));

    const second = await engine.attach('deps');
    const links = await second.link(['node_modules', 'up', 'gone', 'nested/deep'], options());
    expect(links.map((l) => l.repaired)).toEqual([['node_modules'], ['up'], ['gone'], ['nested']]);
    await writeFile(join(work, 'node_modules', 'written'), 'w');
    await writeFile(join(work, 'nested', 'deep', 'written'), 'w');
    expect(await readdir(outside)).toEqual(['precious']);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    expect((await lstat(join(second.mountPath, 'node_modules'))).isDirectory()).toBe(true);
    expect(await readFile(join(second.mountPath, 'node_modules', 'written'), 'utf8')).toBe('w');
    await second.abandon();
    expect(await readdir(outside)).toEqual(['precious']);
  });

  it('refuses a second live fork in the same working directory, and replaces an ended one (regression)', async () => {
    const a = await engine.attach('deps', { job: 'a' });
    await a.link(['node_modules'], options());
    await writeFile(join(work, 'node_modules', 'from-a'), 'a');
    const b = await engine.attach('deps', { job: 'b' });
    await expect(b.link(['node_modules'], options())).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(b.link(['node_modules'], options({ strict: false }))).rejects.toThrow(
      new RegExp(`linked to fork ${a.id}, which is still attached`),
    );
    expect(await readFile(join(work, 'node_modules', 'from-a'), 'utf8')).toBe('a');
    // A crashed job: its fork ended (here: abandoned by a process on another host, which cannot
    // reach this host's links), but its link or mount is still in the working directory.
    await newEngine('elsewhere', engine.store).abandon(a.id);
    expect((await b.link(['node_modules'], options()))[0]?.action).toBe('relinked');
    expect(existsSync(join(work, 'node_modules', 'from-a'))).toBe(false);
    await b.abandon();
    expect(mountsUnder(dir)).toEqual([]);
  });

  it('reconcile undoes the links of a fork whose job died', async () => {
    const short = new CacheVolumes({
      backend: createDirBackend({ root: join(dir, 'data') }),
      store: createMemoryStore(),
      host: 'h',
      leaseMs: 1,
    });
    const fork = await short.attach('deps');
    await fork.link(['node_modules'], options());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await short.reconcile();
    expect(report.expiredForks).toEqual([fork.id]);
    expect(existsSync(join(work, 'node_modules'))).toBe(false);
    expect(mountsUnder(dir)).toEqual([]);
  });
});

describe('a tool that replaces a symlink by a directory (npm: "Removing non-directory")', () => {
  const options = (): LinkOptions => ({ workdir: work, method: 'symlink', strict: true });
  async function replacedByTool(fork: ForkHandle) {
    await fork.link(['node_modules'], options());
    await rm(join(work, 'node_modules'));
    await mkdir(join(work, 'node_modules', 'pkg'), { recursive: true });
    await writeFile(join(work, 'node_modules', 'pkg', 'index.js'), 'installed');
  }

  it('is captured into the fork at commit, not committed empty (regression)', async () => {
    const fork = await engine.attach('deps');
    await replacedByTool(fork);
    const outcome = await fork.finish(0);
    expect(outcome.links).toEqual([
      { linkPath: join(work, 'node_modules'), method: 'symlink', action: 'captured', capturedBy: 'rename' },
    ]);
    expect(outcome.version?.usedBytes).toBeGreaterThan(0);
    expect(existsSync(join(work, 'node_modules'))).toBe(false);
    const next = await engine.attach('deps');
    await next.link(['node_modules'], options());
    expect(await readFile(join(work, 'node_modules', 'pkg', 'index.js'), 'utf8')).toBe('installed');
    await next.abandon();
  });

  it('is left in place, and said so, when the fork is not committed', async () => {
    const fork = await engine.attach('deps');
    await replacedByTool(fork);
    const outcome = await fork.finish(1);
    expect(outcome).toMatchObject({ action: 'abandoned', links: [{ action: 'left' }] });
    expect(outcome.links?.[0]?.problem).toMatch(
      /replaced the link .* by a directory; the fork is not committed/,
    );
    expect(await readFile(join(work, 'node_modules', 'pkg', 'index.js'), 'utf8')).toBe('installed');
  });
});

describe('discard', () => {
  it('never follows a link out of the fork', async () => {
    const fork = await engine.attach('deps');
    await symlink(outside, join(fork.mountPath, 'escape'));
    await symlink(join(outside, 'precious'), join(fork.mountPath, 'file-link'));
    await fork.abandon();
    expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('keep');
    expect(existsSync(fork.mountPath)).toBe(false);
  });
});
