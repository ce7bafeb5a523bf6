import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
/** The built `cachevol` executable. */
export const BIN = join(REPO, 'packages/cli/dist/cli.cjs');
/**
 * The workspace packages whose sources the `cachevol` bundle inlines: the CLI and every
 * `@cachevol/*` package it depends on.
 */
const BUNDLED = [
  'cli',
  ...Object.keys(
    (JSON.parse(readFileSync(join(REPO, 'packages/cli/package.json'), 'utf8')) as PackageJson).dependencies,
  )
    .filter((name) => name.startsWith('@cachevol/'))
    .map((name) => name.slice('@cachevol/'.length)),
];
/** The packages whose dist the tests load beside the CLI (test/fixtures/stress-worker.mjs). */
const NEEDED = ['core', 'backend-dir', 'store-sqlite'];

interface PackageJson {
  dependencies: Record<string, string>;
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function oldestDist(pkg: string): number {
  const dist = join(REPO, 'packages', pkg, 'dist');
  if (!existsSync(join(dist, 'index.js'))) return 0;
  return Math.min(...readdirSync(dist).map((name) => statSync(join(dist, name)).mtimeMs));
}

function build(pkg: string): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(REPO, 'packages', pkg), stdio: 'pipe' });
}

/**
 * Builds what the tests run when it is missing or older than its sources (after
 * `npm run build`, as `npm test` does, this does nothing): the packages the tests load from
 * their dist, and the CLI bundle, which is older than its sources when any package it inlines
 * changed. A directory lock keeps test files that run at the same time from building at once.
 *
 * @param extra - more packages to build, such as `backend-btrfs`
 */
export function ensureBuilt(extra: string[] = []): void {
  const lock = join(tmpdir(), 'cachevol-cli-test-build.lock');
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than ten minutes was left by a test run that died while building.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 600_000) rmdirSync(lock);
      if (i > 600) throw new Error(`build lock ${lock} held for 5 minutes; remove it if no test is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    for (const pkg of [...NEEDED, ...extra])
      if (oldestDist(pkg) <= newest(join(REPO, 'packages', pkg, 'src'))) build(pkg);
    const bundled = statSync(BIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (bundled <= Math.max(...BUNDLED.map((pkg) => newest(join(REPO, 'packages', pkg, 'src')))))
      build('cli');
  } finally {
    rmdirSync(lock);
  }
}

/** What a finished `cachevol` process did. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link cachevol}. */
export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
  input?: string;
}

/**
 * Runs the built `cachevol` with arguments (never through a shell) and collects its output.
 *
 * @param args - the arguments
 * @param options - working directory and extra environment
 */
export function cachevol(args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCachevol(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Starts the built `cachevol` without waiting for it.
 *
 * @param args - the arguments
 * @param options - working directory and extra environment
 */
export function spawnCachevol(args: string[], options: CliOptions) {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', CI: process.env.CI ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A fresh temporary directory, removed by the returned `cleanup`. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `cachevol-cli-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A root and a working directory of their own under `base`, and `cachevol` run in that working
 * directory with `CACHEVOL_ROOT` set to that root.
 *
 * @param base - a temporary directory of the test file
 * @param name - the sandbox's name, unique in the file
 */
export async function sandbox(base: string, name: string) {
  const root = join(base, name, 'root');
  const work = join(base, name, 'work');
  await mkdir(work, { recursive: true });
  const run = (args: string[]) => cachevol(args, { cwd: work, env: { CACHEVOL_ROOT: root } });
  return { root, work, run };
}

/**
 * Every path under `dir` (relative, sorted, with `/` after directories and `@` after symlinks),
 * to compare a tree before and after a command.
 *
 * @param dir - the directory
 */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      const rel = relative(dir, path);
      if (entry.isSymbolicLink()) out.push(`${rel}@`);
      else if (entry.isDirectory()) {
        out.push(`${rel}/`);
        await walk(path);
      } else out.push(rel);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Abandons every fork still attached under a root, which undoes its links: a test that failed
 * half-way would otherwise leave bind mounts in its temporary directory.
 *
 * @param root - a cachevol root the test made
 */
export async function abandonAttached(root: string): Promise<void> {
  const env = { CACHEVOL_ROOT: root };
  const listed = await cachevol(['ls', '--json'], { cwd: tmpdir(), env });
  if (listed.code !== 0) return;
  const { volumes } = JSON.parse(listed.stdout) as { volumes: { forks: { id: string; state: string }[] }[] };
  for (const fork of volumes.flatMap((v) => v.forks).filter((f) => f.state === 'attached'))
    await cachevol(['abandon', fork.id], { cwd: tmpdir(), env });
}
