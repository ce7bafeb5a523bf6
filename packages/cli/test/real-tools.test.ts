import { cp, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith, missingPrograms, type Requirement, unavailable } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { BIN, ensureBuilt, REPO, tempDir } from './helpers/cli.js';

/**
 * The tools people cache most, run for real through `cachevol run` (issue 12): npm install, npm
 * ci and pnpm install on a small project from the registry, ccache with gcc, and tsc --incremental, on the
 * default backend and on btrfs. Each runs twice; the second run must reuse what the first left.
 */

const FIXTURES = join(REPO, 'packages/cli/test/fixtures');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const PNPM = join(REPO, 'node_modules/.bin/pnpm');

/** The environment the tools run in: this one without npm's own variables (set by `npx`). */
function toolEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && !/^npm_/i.test(key)) env[key] = value;
  return { ...env, NO_COLOR: '1', npm_config_update_notifier: 'false', ...extra };
}

interface Place {
  /** Backend flags for `cachevol`. */
  flags: string[];
  /** The state and data root. */
  root: string;
  /** Where working directories go. */
  base: string;
  /** The working directories are on another filesystem than the forks. */
  crossDevice: boolean;
}

/** `cachevol run` in `cwd`: the tool's output and cachevol's notes. */
async function cachevolRun(place: Place, cwd: string, args: string[], env: Record<string, string> = {}) {
  const result = await execa(process.execPath, [BIN, ...place.flags, 'run', ...args], {
    cwd,
    env: toolEnv({ CACHEVOL_ROOT: place.root, ...env }),
    extendEnv: false,
    reject: false,
    timeout: 300_000,
  });
  return { code: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function headBytes(place: Place, name: string): Promise<number> {
  const ls = await execa(process.execPath, [BIN, ...place.flags, 'ls', '--json'], {
    env: toolEnv({ CACHEVOL_ROOT: place.root }),
    extendEnv: false,
  });
  const volumes = JSON.parse(String(ls.stdout)).volumes as {
    name: string;
    headId: string;
    versions: { id: string; usedBytes: number }[];
  }[];
  const volume = volumes.find((v) => v.name === name);
  return volume?.versions.find((v) => v.id === volume.headId)?.usedBytes ?? 0;
}

/** A fresh copy of a fixture project, and an empty npm cache (never the user's). */
async function project(place: Place, fixture: string, name: string) {
  const work = join(place.base, name);
  await cp(join(FIXTURES, fixture), work, { recursive: true });
  const npmCache = () => mkdtemp(join(place.base, `${name}-npm-cache-`));
  return { work, npmCache };
}

const npmFlags = ['--no-audit', '--no-fund', '--loglevel=warn'];

/** The tests, for one backend. */
function realTools(place: () => Place) {
  it('npm install twice: the second, --offline with an empty npm cache, is up to date', async () => {
    const p = place();
    const { work, npmCache } = await project(p, 'npm-project', 'npm-install');
    const cache = ['--cache', 'node_modules', '--name', 'npm-install', '--'];
    const first = await cachevolRun(p, work, [
      ...cache,
      'npm',
      'install',
      ...npmFlags,
      '--cache',
      await npmCache(),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/npm-install: miss/);
    expect(await headBytes(p, 'npm-install')).toBeGreaterThan(10_000);
    const second = await cachevolRun(p, work, [
      ...cache,
      'npm',
      'install',
      '--offline',
      ...npmFlags,
      '--cache',
      await npmCache(),
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/npm-install: hit/);
    expect(second.stdout).toMatch(/up to date/);
    expect(second.stderr).not.toMatch(/Removing non-directory/);
  });

  it('pnpm install twice: the second, --offline with an empty store, is already up to date', async () => {
    const p = place();
    const { work } = await project(p, 'npm-project', 'pnpm-install');
    // pnpm records its store's path in node_modules (a different one makes it recreate
    // node_modules, on a plain directory too): the same path, emptied before each run.
    const store = async () => {
      const dir = join(p.base, 'pnpm-store');
      await rm(dir, { recursive: true, force: true });
      return dir;
    };
    const cache = ['--cache', 'node_modules', '--name', 'pnpm-install', '--'];
    const first = await cachevolRun(p, work, [...cache, PNPM, 'install', '--store-dir', await store()]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stderr).toMatch(/pnpm-install: miss/);
    expect(await headBytes(p, 'pnpm-install')).toBeGreaterThan(10_000);
    const second = await cachevolRun(p, work, [
      ...cache,
      PNPM,
      'install',
      '--offline',
      '--frozen-lockfile',
      '--store-dir',
      await store(),
    ]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stderr).toMatch(/pnpm-install: hit/);
    expect(second.stdout).toMatch(/Already up to date/);
    const use = await cachevolRun(p, work, [
      ...cache,
      process.execPath,
      '-e',
      "require('ms'); require('picocolors')",
    ]);
    expect(use.code, use.stderr).toBe(0);
  });

  it('npm install by symlink: the directory npm puts in place of the link is committed', async () => {
    const p = place();
    const { work, npmCache } = await project(p, 'npm-project', 'npm-symlink');
    const cache = ['--link', 'symlink', '--cache', 'node_modules', '--name', 'npm-symlink', '--'];
    const first = await cachevolRun(p, work, [
      ...cache,
      'npm',
      'install',
      ...npmFlags,
      '--cache',
      await npmCache(),
    ]);
    expect(first.code, first.stderr).toBe(0);
    // Moved in by rename on one filesystem, copied (then removed) across two.
    expect(first.stderr).toMatch(
      new RegExp(`captured .*node_modules into the fork .*; ${p.crossDevice ? 'copy' : 'rename'}\\)`),
    );
    expect(await headBytes(p, 'npm-symlink')).toBeGreaterThan(10_000);
    const use = await cachevolRun(p, work, [
      ...cache,
      process.execPath,
      '-e',
      "require('ms'); require('picocolors')",
    ]);
    expect(use.code, use.stderr).toBe(0);
    expect(use.stderr).toMatch(/npm-symlink: hit/);
  });

  it('npm ci twice: the second empties and refills the volume, and the head is not empty after it', async () => {
    const p = place();
    const { work, npmCache } = await project(p, 'npm-project', 'npm-ci');
    const cache = ['--cache', 'node_modules', '--name', 'npm-ci', '--'];
    for (const expected of ['miss', 'hit']) {
      const run = await cachevolRun(p, work, [
        ...cache,
        'npm',
        'ci',
        ...npmFlags,
        '--cache',
        await npmCache(),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`npm-ci: ${expected}`));
      expect(await headBytes(p, 'npm-ci')).toBeGreaterThan(10_000);
    }
    const use = await cachevolRun(p, work, [
      ...cache,
      process.execPath,
      '-e',
      "require('ms'); require('is-number')",
    ]);
    expect(use.code, use.stderr).toBe(0);
  });

  it('ccache with gcc twice: the second build is all ccache hits', async () => {
    const p = place();
    const { work } = await project(p, 'c-project', 'ccache');
    const env = { CCACHE_DIR: join(work, '.ccache') };
    const build = ['--cache', '.ccache', '--name', 'ccache', '--', process.execPath, 'build.mjs'];
    const first = await cachevolRun(p, work, build, env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ sources: 5, hits: 0, misses: 5 });
    await rm(join(work, 'out'), { recursive: true }); // a fresh checkout has no objects
    const second = await cachevolRun(p, work, build, env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/ccache: hit/);
    expect(JSON.parse(second.stdout)).toEqual({ sources: 5, hits: 5, misses: 0 });
  });

  it('tsc --incremental twice: the second reuses its build info and emits nothing', async () => {
    const p = place();
    const { work } = await project(p, 'ts-project', 'tsc');
    const tsc = [
      '--cache',
      '.tscache',
      '--name',
      'tsc',
      '--',
      process.execPath,
      TSC,
      '-p',
      '.',
      '--listEmittedFiles',
    ];
    const first = await cachevolRun(p, work, tsc);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/TSFILE: .*index\.js/);
    const second = await cachevolRun(p, work, tsc);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stderr).toMatch(/tsc: hit/);
    expect(second.stdout).not.toMatch(/TSFILE: .*\.js/);
  });
}

const tools = (extra: Requirement) =>
  unavailable(['root', extra]) ??
  missingPrograms(['npm', 'gcc', 'ccache'], 'npm, gcc and ccache (apt-get install ccache gcc libc6-dev)');

describeWith(
  'root',
  'real tools through cachevol run, on the default (dir) backend',
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ensureBuilt();
      ({ dir, cleanup } = await tempDir('tools-dir'));
    });
    afterAll(() => cleanup());
    realTools(() => ({ flags: [], root: join(dir, 'root'), base: dir, crossDevice: false }));
  },
  { reason: tools('root') },
);

describeWith(
  'btrfs',
  'real tools through cachevol run, on btrfs',
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let fs: LoopBtrfs;
    beforeAll(async () => {
      ensureBuilt(['backend-btrfs']);
      ({ dir, cleanup } = await tempDir('test-btrfs-tools'));
      fs = await createLoopBtrfs({ prefix: 'cachevol-test-btrfs-tools-', sizeBytes: 512 * 2 ** 20 });
    });
    afterAll(async () => {
      await fs?.destroy();
      await cleanup();
    });
    realTools(() => ({
      flags: ['--backend', 'btrfs'],
      root: join(fs.mountPoint, 'cachevol'),
      base: dir,
      crossDevice: true,
    }));
  },
  { reason: tools('btrfs') },
);

describe('real tools: fixtures', () => {
  it('pin their npm dependencies with a committed lockfile', async () => {
    const lock = await import(join(FIXTURES, 'npm-project/package-lock.json'), { with: { type: 'json' } });
    expect(Object.keys(lock.default.packages).sort()).toEqual([
      '',
      'node_modules/is-number',
      'node_modules/ms',
      'node_modules/picocolors',
      'node_modules/yocto-queue',
    ]);
  });
});
