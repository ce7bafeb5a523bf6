import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import { cachevol, ensureBuilt, REPO, spawnCachevol, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('e2e'));
});
afterAll(() => cleanup());

/** A fresh root and working directory for one test. */
async function sandbox(name: string) {
  const root = join(base, name, 'root');
  const work = join(base, name, 'work');
  await mkdir(work, { recursive: true });
  const run = (args: string[], env: Record<string, string> = {}) =>
    cachevol(args, { cwd: work, env: { CACHEVOL_ROOT: root, ...env } });
  return { root, work, run };
}

/**
 * Waits for a file that a command started by `child` writes (the command's "I am here" signal);
 * fails at once, with its stderr, if `child` exits first.
 */
async function waitForFile(path: string, child: ReturnType<typeof spawnCachevol>): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(
    () => {
      if (existsSync(path)) return true;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`cachevol exited before writing ${path}: ${stderr}`);
      return false;
    },
    { what: `${path} to appear` },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; cachevol's stderr so far: ${stderr}`);
  });
}

/** A node one-liner as a `cachevol run` command. */
const node = (code: string) => [process.execPath, '-e', code];

/** Reads `c/value` (or "none"), prints it, then writes `value` there and exits with `code`. */
const readThenWrite = (value: string, code = 0) =>
  node(
    `const fs = require('fs'); const f = 'c/value'; console.log('saw ' + (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : 'none')); fs.writeFileSync(f, ${JSON.stringify(value)}); process.exit(${code})`,
  );

async function headOf(run: (args: string[]) => Promise<{ stdout: string }>, name: string) {
  const { volumes } = JSON.parse((await run(['ls', '--json'])).stdout) as {
    volumes: { name: string; headId: string | null; forks: unknown[]; versions: { id: string }[] }[];
  };
  return volumes.find((v) => v.name === name);
}

describe('cachevol run (built binary)', () => {
  it('misses, then hits with the files the first run committed', async () => {
    const { run } = await sandbox('miss-hit');
    const first = await run(['run', '--cache', 'c', '--name', 'deps', '--', ...readThenWrite('one')]);
    expect(first).toMatchObject({ code: 0, stdout: 'saw none\n' });
    // A duration reads `12 ms`, or `1.42 s` from one second on (a commit on a loaded machine).
    expect(first.stderr).toMatch(/default\/deps: miss, attached in (?:\d+ ms|\d+\.\d\d s)/);
    expect(first.stderr).toMatch(/default\/deps: committed as v-\S+ in (?:\d+ ms|\d+\.\d\d s)/);
    const second = await run(['run', '--cache', 'c', '--name', 'deps', '--', ...readThenWrite('two')]);
    expect(second).toMatchObject({ code: 0, stdout: 'saw one\n' });
    expect(second.stderr).toMatch(/default\/deps: hit \(version v-\S+\)/);
    const stats = JSON.parse((await run(['stats', '--json'])).stdout).volumes;
    expect(stats[0]).toMatchObject({
      name: 'deps',
      counts: { hit: 1, stale: 0, miss: 1 },
      recent: { day: { hit: 1, stale: 0, miss: 1, hitRatio: 0.5 }, week: { hit: 1, miss: 1 } },
      emptyHead: false,
      versions: 2,
      liveForks: 0,
    });
  });

  it('stats flags a head that holds no data (a job that writes its cache somewhere else)', async () => {
    const { run } = await sandbox('empty-head');
    for (let i = 0; i < 2; i++)
      expect((await run(['run', '-c', 'c', '--name', 'deps', '--', 'true'])).code).toBe(0);
    const stats = await run(['stats']);
    expect(stats.stdout).toMatch(/default\/deps .* 0 B \(empty\)/);
    expect(stats.stderr).toContain('the head of default/deps holds no data');
    expect(JSON.parse((await run(['stats', '--json'])).stdout).volumes[0]).toMatchObject({
      emptyHead: true,
      recent: { day: { hit: 1, miss: 1 } },
    });
  });

  it('abandons a failing command, passes its exit code through, and keeps the last good version', async () => {
    const { run } = await sandbox('failure');
    await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('good')]);
    const good = await headOf(run, 'deps');
    const failed = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('bad', 7)]);
    expect(failed.code).toBe(7);
    expect(failed.stderr).toMatch(/default\/deps: abandoned \(exit code 7\)/);
    expect((await headOf(run, 'deps'))?.headId).toBe(good?.headId);
    const next = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('later')]);
    expect(next).toMatchObject({ code: 0, stdout: 'saw good\n' });
  });

  it('runs two jobs on one volume at once: both succeed, the last to finish is head', async () => {
    const { run, work } = await sandbox('concurrent');
    await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('base')]);
    // The order comes from signals, not from timing: the slow job says when its fork is
    // attached (slow-attached), then holds its fork until the test says go (fast-finished),
    // which it does once the fast job has committed.
    const attached = join(work, 'slow-attached');
    const go = join(work, 'fast-finished');
    const slow = node(
      `const fs = require('fs'); fs.writeFileSync('c/value', 'slow'); fs.writeFileSync(${JSON.stringify(attached)}, ''); const until = Date.now() + 120000; const wait = () => fs.existsSync(${JSON.stringify(go)}) ? process.exit(0) : Date.now() > until ? process.exit(9) : setTimeout(wait, 10); wait()`,
    );
    await mkdir(join(work, 'a'));
    await mkdir(join(work, 'b'));
    let slowDone = false;
    const slowRun = run([
      'run',
      '-c',
      'c',
      '--name',
      'deps',
      '--workdir',
      join(work, 'a'),
      '--',
      ...slow,
    ]).finally(() => {
      slowDone = true;
    });
    try {
      await waitFor(
        () => {
          if (existsSync(attached)) return true;
          if (slowDone) throw new Error('the slow job ended before it was attached');
          return false;
        },
        { what: 'the slow job to be attached' },
      );
      const fast = await run([
        'run',
        '-c',
        'c',
        '--name',
        'deps',
        '--workdir',
        join(work, 'b'),
        '--',
        ...readThenWrite('fast'),
      ]);
      expect(fast).toMatchObject({ code: 0, stdout: 'saw base\n' });
      expect(fast.stderr).toMatch(/default\/deps: committed as/);
    } finally {
      await writeFile(go, '');
    }
    const slowResult = await slowRun;
    expect(slowResult.code, slowResult.stderr).toBe(0);
    // Both commits are kept, the base is superseded: a volume keeps its head and one before it.
    const volume = await headOf(run, 'deps');
    expect(volume?.versions).toHaveLength(2);
    expect(volume?.forks).toEqual([]);
    const after = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('end')]);
    expect(after.stdout).toBe('saw slow\n');
  });

  /**
   * Starts a job whose command writes a partial value and hangs, then kills cachevol with
   * SIGKILL (a crashed runner) and the command after it: the fork stays attached.
   */
  async function killMidCommand(root: string, work: string, flags: string[] = []): Promise<void> {
    const hang = node(
      "const fs = require('fs'); fs.writeFileSync('c/value', 'partial'); fs.writeFileSync('child.pid', String(process.pid)); setInterval(() => {}, 1000)",
    );
    const child = spawnCachevol(['run', ...flags, '-c', 'c', '--name', 'deps', '--', ...hang], {
      cwd: work,
      env: { CACHEVOL_ROOT: root },
    });
    const pidFile = join(work, 'child.pid');
    await waitForFile(pidFile, child);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGKILL');
  }

  it('after kill -9 mid-command, gc abandons the fork once its lease runs out and the head is intact', async () => {
    const { run, root, work } = await sandbox('kill9');
    await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('good')]);
    const good = await headOf(run, 'deps');
    await killMidCommand(root, work, ['--lease', '1s']);
    const live = await headOf(run, 'deps');
    expect(live?.forks).toHaveLength(1);
    const stuck = (live?.forks[0] ?? {}) as { id?: string };
    // gc abandons the fork once its 1 s lease (from its last heartbeat) has run out: run gc
    // until it has, and check that it abandoned that fork and nothing else.
    const expired: string[] = [];
    await waitFor(
      async () => {
        expired.push(...JSON.parse((await run(['gc', '--json'])).stdout).expiredForks);
        return expired.length > 0;
      },
      { what: 'gc to abandon the fork whose lease ran out', intervalMs: 250 },
    );
    expect(expired).toEqual([stuck.id]);
    const after = await headOf(run, 'deps');
    expect(after).toMatchObject({ headId: good?.headId, forks: [] });
    expect(await readdir(join(root, 'data/forks'))).toEqual([]);
    const next = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('next')]);
    expect(next.stdout).toBe('saw good\n');
  });

  it('after kill -9, a retried job in the same working directory runs at once: it takes the dead job’s links over', async () => {
    const { run, root, work } = await sandbox('kill9-retry');
    await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('good')]);
    await killMidCommand(root, work);
    // The dead job's fork is still live (its 2 h lease), and its link is still in place.
    expect((await headOf(run, 'deps'))?.forks).toHaveLength(1);
    const retry = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('retried')]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toBe('saw good\n'); // the head, never the dead job's partial write
    const next = await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('next')]);
    expect(next.stdout).toBe('saw retried\n');
  });

  it('forwards SIGTERM to the command, abandons, and exits 143', async () => {
    const { run, root, work } = await sandbox('sigterm');
    await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('good')]);
    const trap = node(
      "const fs = require('fs'); fs.writeFileSync('c/value', 'partial'); process.on('SIGTERM', () => { fs.writeFileSync('got-term', ''); process.exit(0) }); fs.writeFileSync('ready', ''); setInterval(() => {}, 1000)",
    );
    const child = spawnCachevol(['run', '-c', 'c', '--name', 'deps', '--', ...trap], {
      cwd: work,
      env: { CACHEVOL_ROOT: root },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await waitForFile(join(work, 'ready'), child);
    const code = new Promise((r) => child.on('close', r));
    child.kill('SIGTERM');
    expect(await code).toBe(143);
    expect(existsSync(join(work, 'got-term'))).toBe(true);
    expect(stderr).toMatch(/default\/deps: abandoned \(SIGTERM\)/);
    expect((await run(['run', '-c', 'c', '--name', 'deps', '--', ...readThenWrite('x')])).stdout).toBe(
      'saw good\n',
    );
  });
});

describe('cachevol attach / finish (built binary)', () => {
  it('attaches, links, and commits or abandons by fork id from separate processes', async () => {
    const { run, work } = await sandbox('attach');
    const attached = await run([
      'attach',
      'deps',
      '--path',
      'node_modules',
      '--path',
      'vendor/bundle',
      '--json',
    ]);
    expect(attached.code).toBe(0);
    const info = JSON.parse(attached.stdout);
    expect(info).toMatchObject({ result: 'miss', links: [{ action: 'created' }, { action: 'created' }] });
    const bind = process.platform === 'linux' && process.getuid?.() === 0;
    expect(info.links.map((l: { method: string }) => l.method)).toEqual(
      bind ? ['bind', 'bind'] : ['symlink', 'symlink'],
    );
    if (!bind) expect(await readlink(join(work, 'node_modules'))).toBe(join(info.mountPath, 'node_modules'));
    await writeFile(join(work, 'node_modules', 'pkg.js'), 'cached');
    expect((await run(['heartbeat', info.forkId])).stdout).toMatch(/lease until \d{4}-/);
    expect(
      JSON.parse((await run(['finish', info.forkId, '--exit-code', '0', '--json'])).stdout),
    ).toMatchObject({
      action: 'committed',
    });
    const again = await run(['attach', 'deps', '--path', 'node_modules', '--path', 'vendor/bundle']);
    expect(again.stderr).toMatch(/hit/);
    const forkId = again.stdout.trim();
    expect(forkId).toMatch(/^f-/);
    expect(await readFile(join(work, 'node_modules', 'pkg.js'), 'utf8')).toBe('cached');
    expect((await run(['abandon', forkId])).code).toBe(0);
    const late = await run(['commit', forkId]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^cachevol: CONFLICT: /);
    expect(late.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses to link over a non-empty directory unless --replace, which moves it aside', async () => {
    const { run, work } = await sandbox('replace');
    await mkdir(join(work, 'node_modules'));
    await writeFile(join(work, 'node_modules', 'mine'), 'x');
    const refused = await run(['attach', 'deps', '--path', 'node_modules']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^cachevol: ALREADY_EXISTS: .*node_modules already exists \(a non-empty directory\).*--replace/,
    );
    const replaced = await run(['attach', 'deps', '--path', 'node_modules', '--replace', '--json']);
    expect(replaced.code).toBe(0);
    const moved = JSON.parse(replaced.stdout).links[0].movedTo;
    expect(await readFile(join(moved, 'mine'), 'utf8')).toBe('x');
    expect(replaced.stderr).toContain(`moved ${join(work, 'node_modules')} aside to ${moved}`);
    expect((await run(['abandon', JSON.parse(replaced.stdout).forkId])).code).toBe(0);
    expect(existsSync(join(work, 'node_modules'))).toBe(false);
  });
});

describe('cachevol pipeline (built binary)', () => {
  it('plans each step of the example pipeline', async () => {
    const { run, work } = await sandbox('plan');
    const plan = await run([
      'pipeline',
      'plan',
      join(REPO, 'examples/pipeline.yml'),
      '--slug',
      'example',
      '--json',
    ]);
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.stdout);
    expect(parsed.steps).toHaveLength(2);
    expect(parsed.steps[0].volumes[0]).toMatchObject({
      name: 'example',
      scope: 'example',
      size: '20g',
      wouldGet: 'miss',
      paths: [{ path: '.deps-cache', linkPath: join(work, '.deps-cache'), subdir: '.deps-cache' }],
    });
  });

  it('runs the main job twice: a miss that builds, then a hit that reuses the files', async () => {
    const { run, work } = await sandbox('pipeline');
    const file = join(REPO, 'examples/pipeline.yml');
    const outputs: string[] = [];
    for (const n of [1, 2]) {
      const checkout = join(work, `checkout-${n}`);
      await mkdir(checkout);
      const result = await run(['pipeline', 'run', file, '--slug', 'example', '--workdir', checkout]);
      expect(result.code, result.stderr).toBe(0);
      outputs.push(result.stdout + result.stderr);
    }
    expect(outputs[0]).toContain('install: cache is empty, building dependencies');
    expect(outputs[0]).toMatch(
      /step 1 \(install dependencies\): exit 0[\s\S]*example\/example: miss, attach (?:\d+ ms|\d+\.\d\d s), committed/,
    );
    expect(outputs[1]).toContain('install: found 20 cached files, nothing to build');
    expect(outputs[1]).toMatch(/example\/example: hit, attach (?:\d+ ms|\d+\.\d\d s), committed/);
    const builtBy = (text: string | undefined) => /first one says: (.*)/.exec(text ?? '')?.[1];
    expect(builtBy(outputs[1])).toBe(builtBy(outputs[0]));
  });

  it('stops at a failing step with its exit code and abandons its volume', async () => {
    const { run, work } = await sandbox('pipeline-fail');
    const file = join(work, 'pipeline.yml');
    await writeFile(
      file,
      'cache: out\nsteps:\n  - command: "echo one > out/x"\n  - command: "exit 4"\n  - command: "echo never"\n',
    );
    const result = await run(['pipeline', 'run', file, '--slug', 'p']);
    expect(result.code).toBe(4);
    expect(result.stdout).not.toContain('never');
    expect(result.stderr).toMatch(/step 2 failed with exit code 4; stopping/);
    expect(result.stderr).toMatch(/p\/p: abandoned \(exit code 4\)/);
  });
});

describe('the example runner', () => {
  it('node examples/run-main-job.mjs shows a miss then a hit and exits 0', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, [join(REPO, 'examples/run-main-job.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('1 miss, 3 hit, 0 stale');
  });
});
