import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
/** The built `cachevol` executable. */
export const BIN = join(REPO, 'packages/cli/dist/cli.js');
/** The workspace packages the CLI loads at run time (with the default backend). */
const NEEDED = ['core', 'backend-dir', 'store-sqlite', 'cli'];

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

/**
 * Builds the packages the CLI needs when their dist is missing or older than their sources
 * (after `npm run build`, as `npm test` does, this does nothing). A directory lock keeps test
 * files that run at the same time from building at once.
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
    for (const pkg of [...NEEDED.slice(0, -1), ...extra, 'cli']) {
      const src = join(REPO, 'packages', pkg, 'src');
      if (oldestDist(pkg) > newest(src)) continue;
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(REPO, 'packages', pkg), stdio: 'pipe' });
    }
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
