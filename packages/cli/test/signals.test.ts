import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import { type CliResult, cachevol, ensureBuilt, spawnCachevol, tempDir } from './helpers/cli.js';

// `cachevol run` and the processes of its command (issue 12, "Job processes"): the command runs
// in a process group of its own; a signal to cachevol goes to the whole group, which is killed
// after the grace; what the command leaves behind in its group is killed before the commit; a
// signal that arrives while cachevol commits never ends in exit 0. Every test runs the built
// CLI with real processes; the order of events comes from files the processes write, never from
// sleeping.

const FIXTURES = fileURLToPath(new URL('./fixtures/signals/', import.meta.url));
/** How long a test waits for cachevol to exit before it calls it a hang (a deadline, not a speed). */
const HANG_MS = 30_000;

let base: string;
let cleanup: () => Promise<void>;
/** Pids the tests started indirectly, killed at the end whatever happened (old code leaves them). */
const strays: number[] = [];

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('signals'));
});
afterAll(async () => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await cleanup();
});

async function sandbox(name: string) {
  const root = join(base, name, 'root');
  const work = join(base, name, 'work');
  await mkdir(join(work, 'c'), { recursive: true });
  const env = { CACHEVOL_ROOT: root };
  const run = (args: string[]) => cachevol(args, { cwd: work, env });
  return { root, work, env, run };
}

/** Starts `cachevol` and collects its output; `exited` settles when it ends (or fails at the deadline). */
function start(args: string[], cwd: string, env: Record<string, string>) {
  const child = spawnCachevol(args, { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cachevol did not exit within ${HANG_MS / 1000} s; its stderr: ${stderr}`));
    }, HANG_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, exited, stderr: () => stderr };
}

/** Waits for a file that a process writes once it is ready; fails at once when cachevol exits first. */
async function readyFile(path: string, job: ReturnType<typeof start>): Promise<number> {
  const text = await waitFor(
    () => {
      if (existsSync(path)) return readFileSync(path, 'utf8');
      if (job.child.exitCode !== null || job.child.signalCode !== null)
        throw new Error(`cachevol exited before ${path} appeared: ${job.stderr()}`);
      return false;
    },
    { what: `${path} to appear` },
  );
  const pid = Number(text);
  strays.push(pid);
  return pid;
}

/** Whether a process has ended (gone, or a zombie nobody reaped yet). */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    if (process.platform === 'linux') return true;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

interface Listing {
  volumes: { name: string; headId: string | null; forks: { id: string; state: string }[] }[];
}

async function listing(run: (args: string[]) => Promise<CliResult>): Promise<Listing['volumes']> {
  const result = await run(['ls', '--json']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as Listing).volumes;
}

const live = (forks: { state: string }[]) =>
  forks.filter((f) => f.state === 'attached' || f.state === 'committing');

/** `cachevol run` of a fixture script on volume `deps` with cache path `c`. */
const runFixture = (flags: string[], script: string, ...args: string[]) => [
  'run',
  '--name',
  'deps',
  '--cache',
  'c',
  ...flags,
  '--',
  process.execPath,
  join(FIXTURES, script),
  ...args,
];

// The grace is given by CACHEVOL_GRACE (and once by --grace), so that the old code, which knew
// neither, runs these tests too and fails them for what they test.
describe('cachevol run: a signal to cachevol ends the command, also one that ignores it', () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`a command that ignores ${signal} is killed after the grace, and cachevol exits 128+${constants.signals[signal]}`, async () => {
      const { work, env, run } = await sandbox(`ignores-${signal}`);
      const ready = join(work, 'ready');
      const flags = signal === 'SIGHUP' ? ['--grace', '0.2'] : [];
      const job = start(runFixture(flags, 'stubborn.mjs', ready), work, { ...env, CACHEVOL_GRACE: '200ms' });
      const pid = await readyFile(ready, job);
      job.child.kill(signal);
      const result = await job.exited;
      expect(result.code, result.stderr).toBe(128 + constants.signals[signal]);
      expect(ended(pid)).toBe(true);
      expect(result.stderr).toMatch(/killed .*after the grace of 200 ms/);
      const [volume] = await listing(run);
      expect(live(volume?.forks ?? [])).toEqual([]);
      expect(volume?.headId ?? null).toBeNull();
    });
  }
});

describe('cachevol run: a signal goes to the whole process group', () => {
  it("reaches the command's own child too, which the command does not pass it on to", async () => {
    const { work, env, run } = await sandbox('family');
    const ready = join(work, 'ready');
    const gotTerm = join(work, 'child-got-term');
    const job = start(runFixture([], 'family.mjs', ready, gotTerm), work, env);
    const child = await readyFile(ready, job);
    job.child.kill('SIGTERM');
    const result = await job.exited;
    expect(result.code, result.stderr).toBe(143);
    expect(existsSync(gotTerm)).toBe(true);
    expect(ended(child)).toBe(true);
    const [volume] = await listing(run);
    expect(live(volume?.forks ?? [])).toEqual([]);
  });
});

describe('cachevol run: what the command leaves behind is killed before the commit', () => {
  for (const mode of ['', 'stubborn'] as const) {
    it(`a background writer${mode ? ' that ignores SIGTERM' : ''} is killed before the commit and writes nothing into the version`, async () => {
      const { root, work, env, run } = await sandbox(`left-behind-${mode || 'plain'}`);
      const pidFile = join(work, 'writer.pid');
      const job = start(runFixture([], 'leave-behind.mjs', 'c/log', pidFile, mode), work, {
        ...env,
        CACHEVOL_GRACE: '300ms',
      });
      const result = await job.exited;
      const pid = Number(await readFile(pidFile, 'utf8'));
      strays.push(pid);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(
        mode
          ? /killed 1 process the command left behind .*SIGKILL/
          : /killed 1 process the command left behind/,
      );
      // Dead when cachevol exits, so nothing it could write lands in the version afterwards.
      expect(ended(pid)).toBe(true);
      const [volume] = await listing(run);
      expect(volume?.headId).toBeTruthy();
      expect(live(volume?.forks ?? [])).toEqual([]);
      const log = join(root, 'data', 'versions', volume?.headId as string, 'c', 'log');
      const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      // Every line is whole and in order: the writer was stopped before the version was made.
      expect(lines.every((line, i) => line === String(i))).toBe(true);
    });
  }
});

describe('cachevol pipeline run: processes left behind', () => {
  it("live on for the step's next line, and are killed before the step's volumes are committed", async () => {
    const { work, run } = await sandbox('pipeline');
    const file = join(work, 'pipeline.yml');
    const line = (script: string, ...args: string[]) =>
      JSON.stringify([process.execPath, join(FIXTURES, script), ...args].join(' '));
    await writeFile(
      file,
      `cache: c\nsteps:\n  - commands:\n      - ${line('leave-behind.mjs', 'c/log', 'writer.pid')}\n      - ${line('alive.mjs', 'writer.pid')}\n`,
    );
    const result = await run(['pipeline', 'run', file, '--slug', 'p']);
    const pid = Number(await readFile(join(work, 'writer.pid'), 'utf8'));
    strays.push(pid);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/killed 1 process the command left behind/);
    expect(result.stderr).toMatch(/p\/p: committed/);
    expect(ended(pid)).toBe(true);
  });
});

describe('cachevol run: a signal while cachevol commits', () => {
  it('lets the commit finish, leaves no live fork, and exits 143, not 0', async () => {
    const { work, env, run } = await sandbox('during-commit');
    // The dir backend flushes a fork of more than 64 entries with `sync -f` before it renames it
    // into a version (smaller ones in-process); this `sync`, first on PATH, says when it runs and
    // then waits for the test to let it go.
    const bin = join(work, '..', 'bin');
    await mkdir(bin);
    const marker = join(work, '..', 'sync-running');
    const gate = join(work, '..', 'sync-gate');
    execFileSync('mkfifo', [gate]);
    await writeFile(
      join(bin, 'sync'),
      `#!${process.execPath}\nconst fs = require('fs');\nfs.writeFileSync(${JSON.stringify(`${marker}.tmp`)}, String(process.pid));\nfs.renameSync(${JSON.stringify(`${marker}.tmp`)}, ${JSON.stringify(marker)});\nfs.readFileSync(${JSON.stringify(gate)});\n`,
    );
    await chmod(join(bin, 'sync'), 0o755);
    const write = [
      process.execPath,
      '-e',
      "for (let i = 0; i < 100; i++) require('fs').writeFileSync('c/v' + i, 'new')",
    ];
    const job = start(['run', '--name', 'deps', '--cache', 'c', '--', ...write], work, {
      ...env,
      PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
    });
    await readyFile(marker, job);
    job.child.kill('SIGTERM');
    // The signal is pending in cachevol before the flush returns; then the gate lets it go on.
    await writeFile(gate, 'go');
    const result = await job.exited;
    expect(result.code, result.stderr).toBe(143);
    const [volume] = await listing(run);
    expect(live(volume?.forks ?? [])).toEqual([]);
    // Either the commit finished (the new head) or it did not (no head): never half of one.
    const versions = await readdir(join(work, '..', 'root', 'data', 'versions')).catch(() => []);
    if (volume?.headId) expect(versions).toContain(volume.headId);
    expect(result.stderr).toMatch(/SIGTERM/);
  });
});

describe('cachevol run: a signal after the command ended, before the commit', () => {
  it('abandons the fork (nothing is committed once a stop was asked for) and exits 143', async () => {
    const { work, env, run } = await sandbox('before-commit');
    const pidFile = join(work, 'writer.pid');
    // The writer left behind answers the SIGTERM that ends it by sending SIGTERM to cachevol:
    // the signal arrives after the command ended and before anything was committed.
    const job = start(runFixture([], 'leave-behind.mjs', 'c/log', pidFile, 'signal-back'), work, env);
    const result = await job.exited;
    strays.push(Number(await readFile(pidFile, 'utf8')));
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).toMatch(/default\/deps: abandoned \(SIGTERM\)/);
    const [volume] = await listing(run);
    expect(volume?.headId ?? null).toBeNull();
    expect(live(volume?.forks ?? [])).toEqual([]);
  });
});

describe('cachevol run --grace', () => {
  it('refuses a malformed or too long grace before attaching anything, naming the flag or variable', async () => {
    const { work, env } = await sandbox('grace-input');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--grace', '5x'], {}, /--grace: invalid grace "5x"/],
      [['--grace', '2h'], {}, /--grace: invalid grace "2h"/],
      [['--grace', '3601'], {}, /at most 1h/],
      [[], { CACHEVOL_GRACE: '-1' }, /CACHEVOL_GRACE: invalid grace "-1"/],
    ];
    for (const [flags, extra, message] of cases) {
      const result = await cachevol(['run', '--name', 'deps', ...flags, '--', process.execPath, '-e', ''], {
        cwd: work,
        env: { ...env, ...extra },
      });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(env.CACHEVOL_ROOT)).toBe(false);
  });
});
