import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abandonAttached, cachevol, ensureBuilt, REPO } from '../../../packages/cli/test/helpers/cli.js';
import { attachArgs, exitCodeFor, readAttachRequest } from '../src/inputs.js';
import { fileCommand, getBooleanInput, getMultilineInput } from '../src/runner-files.js';
import config from '../tsup.config.js';
import { ACTION, actionYml, parseFileCommands, runStep, type StepResult } from './runner.js';

let base: string;
beforeAll(async () => {
  ensureBuilt();
  base = await mkdtemp(join(tmpdir(), 'integ-action-'));
});
/** The roots the tests made: what a failed test left attached is abandoned before they are removed. */
const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await abandonAttached(root);
  await rm(base, { recursive: true, force: true });
});

/** A CI host: one cachevol root that every job on it shares. */
async function host(name: string) {
  const root = join(base, name, 'root');
  roots.push(root);
  let jobs = 0;
  const ls = async () => {
    const listed = await cachevol(['ls', '--json'], { cwd: base, env: { CACHEVOL_ROOT: root } });
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as {
      volumes: { scope: string; name: string; headId: string | null; forks: { state: string }[] }[];
    };
  };
  /**
   * One job: a fresh workspace, the action's main step, the job's own steps (`work`, which
   * tells the job's status), then the post step with that status, as a runner runs them.
   */
  const job = async (
    inputs: Record<string, string>,
    work: (workspace: string) => Promise<string | 'runner-killed'>,
  ) => {
    jobs++;
    const workspace = join(base, name, `work-${jobs}`, 'repo');
    const temp = join(base, name, `temp-${jobs}`);
    await mkdir(workspace, { recursive: true });
    await mkdir(temp, { recursive: true });
    const env = {
      PATH: `${join(REPO, 'node_modules/.bin')}:${process.env.PATH}`,
      HOME: process.env.HOME ?? base,
      CACHEVOL_ROOT: root,
      NO_COLOR: '1',
      GITHUB_WORKSPACE: workspace,
      GITHUB_REPOSITORY: 'octo-org/web-app',
      GITHUB_RUN_ID: String(1000 + jobs),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_JOB: 'build',
      RUNNER_TEMP: temp,
    };
    const main = await runStep('main', { with: inputs, jobStatus: 'success', env, temp });
    const status = main.code === 0 ? await work(workspace) : 'failure';
    if (status === 'runner-killed') return { main, post: undefined, workspace };
    const post = await runStep('post', { with: inputs, jobStatus: status, state: main.state, env, temp });
    return { main, post, workspace };
  };
  return { root, job, ls };
}

function log(step: StepResult | undefined): string {
  return `${step?.stdout}\n${step?.stderr}`;
}

describe('the GitHub Action, main and post steps as a runner runs them', () => {
  it('misses, commits on success; hits with those files; a failed job commits nothing', async () => {
    const { job, ls } = await host('lifecycle');
    const inputs = { paths: 'node_modules\n.build-cache\n', name: 'deps' };

    const first = await job(inputs, async (workspace) => {
      await writeFile(join(workspace, 'node_modules', 'left-pad.js'), 'module.exports = 1;\n');
      return 'success';
    });
    expect(first.main.code, log(first.main)).toBe(0);
    expect(first.main.outputs).toMatchObject({ result: 'miss', 'cache-hit': 'false' });
    const forkId = first.main.outputs['fork-id'] as string;
    expect(forkId).toMatch(/^f-/);
    expect(first.main.state['fork-id']).toBe(forkId);
    expect(first.main.env).toEqual({ CACHEVOL_FORK_ID: forkId, CACHEVOL_RESULT: 'miss' });
    expect(first.post?.code, log(first.post)).toBe(0);
    expect(first.post?.stdout).toContain(`fork ${forkId} committed as v-`);
    const afterFirst = await ls();
    expect(afterFirst.volumes).toHaveLength(1);
    expect(afterFirst.volumes[0]).toMatchObject({ scope: 'octo-org/web-app', name: 'deps' });
    const head = afterFirst.volumes[0]?.headId;
    expect(head).toMatch(/^v-/);

    const failed = await job(inputs, async (workspace) => {
      expect(await readFile(join(workspace, 'node_modules', 'left-pad.js'), 'utf8')).toContain('exports');
      await writeFile(join(workspace, 'node_modules', 'broken.js'), 'half-written\n');
      await rm(join(workspace, 'node_modules', 'left-pad.js'));
      return 'failure';
    });
    expect(failed.main.outputs).toMatchObject({ result: 'hit', 'cache-hit': 'true' });
    expect(failed.post?.stdout).toContain('abandoned (job status failure)');
    expect((await ls()).volumes[0]?.headId).toBe(head);

    const cancelled = await job(inputs, async (workspace) => {
      await writeFile(join(workspace, 'node_modules', 'cancelled.js'), 'x\n');
      return 'cancelled';
    });
    expect(cancelled.post?.stdout).toContain('abandoned (job status cancelled)');

    const third = await job(inputs, async (workspace) => {
      expect(readdirSync(join(workspace, 'node_modules')).sort()).toEqual(['left-pad.js']);
      return 'success';
    });
    expect(third.main.outputs.result).toBe('hit');
    expect(third.post?.stdout).toContain('committed as v-');
    const volume = (await ls()).volumes[0];
    expect(volume?.forks.filter((f) => f.state === 'attached')).toEqual([]);
    // The links were undone by the post step: the workspace holds no cache path any more.
    expect(existsSync(join(third.workspace, 'node_modules', 'left-pad.js'))).toBe(false);
  });

  it('fails on a miss with fail-on-miss, leaving nothing attached; falls back to another volume', async () => {
    const { job, ls } = await host('fail-on-miss');
    const missing = await job({ paths: 'vendor', name: 'gems', 'fail-on-miss': 'true' }, async () => {
      throw new Error('the job must not run past a failed main step');
    });
    expect(missing.main.code).toBe(1);
    expect(missing.main.stdout).toMatch(/^::error::octo-org\/web-app\/gems: no usable version/m);
    expect(missing.main.state['fork-id']).toBeUndefined();
    expect(missing.post?.stdout).toContain('nothing attached');
    expect((await ls()).volumes.flatMap((v) => v.forks.filter((f) => f.state === 'attached'))).toEqual([]);

    await job({ paths: 'vendor', name: 'gems-main', scope: 'main' }, async (workspace) => {
      await writeFile(join(workspace, 'vendor', 'rack.rb'), 'rack\n');
      return 'success';
    });
    const restored = await job(
      { paths: 'vendor', name: 'gems', fallbacks: 'gems-main@main', 'fail-on-miss': 'true' },
      async (workspace) => {
        expect(readdirSync(join(workspace, 'vendor'))).toEqual(['rack.rb']);
        return 'success';
      },
    );
    expect(restored.main.code, log(restored.main)).toBe(0);
    expect(restored.main.outputs.result).toBe('miss');
    expect(restored.main.stdout).toContain('restored from main/gems-main');
  });

  it('when the post step never runs, the fork is abandoned by gc once its lease runs out', async () => {
    const { root, job, ls } = await host('runner-killed');
    const inputs = { paths: 'node_modules', name: 'deps', lease: '1s' };
    await job(inputs, async (workspace) => {
      await writeFile(join(workspace, 'node_modules', 'a.js'), 'a\n');
      return 'success';
    });
    const head = (await ls()).volumes[0]?.headId;
    const killed = await job(inputs, async (workspace) => {
      await writeFile(join(workspace, 'node_modules', 'unfinished.js'), 'x\n');
      return 'runner-killed';
    });
    expect(killed.post).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const gc = await cachevol(['gc', '--json'], { cwd: base, env: { CACHEVOL_ROOT: root } });
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(gc.stdout).expiredForks)).toContain(killed.main.outputs['fork-id']);
    const volume = (await ls()).volumes[0];
    expect(volume?.headId).toBe(head);
    expect(volume?.forks.filter((f) => f.state === 'attached')).toEqual([]);
    expect(existsSync(join(killed.workspace, 'node_modules', 'unfinished.js'))).toBe(false);
  });

  it('runs uncached with a warning when cachevol is not installed, and fails on bad inputs', async () => {
    const { job } = await host('trouble');
    const absent = await job(
      { paths: 'node_modules', cachevol: join(base, 'no-such-cachevol') },
      async () => {
        return 'success';
      },
    );
    expect(absent.main.code).toBe(0);
    expect(absent.main.stdout).toMatch(
      /^::warning::octo-org\/web-app\/web-app: not cached this run: .*ENOENT/m,
    );
    expect(absent.main.outputs).toMatchObject({ result: 'miss', 'fork-id': '' });
    expect(absent.post?.code).toBe(0);

    const tooSmall = await job({ paths: 'node_modules', size: '10g' }, async () => 'success');
    expect(tooSmall.main.code).toBe(1);
    expect(tooSmall.main.stdout).toMatch(
      /^::error::octo-org\/web-app\/web-app: INVALID_ARGUMENT: Invalid size "10g"/m,
    );
    const noPaths = await job({}, async () => 'success');
    expect(noPaths.main.stdout).toContain('::error::Input "paths" is required');
  });
});

describe('the runner protocol', () => {
  it('writes outputs as blocks the runner reads back, whatever the value holds', () => {
    const value = 'two\nlines with = and << in them\n';
    expect(parseFileCommands(fileCommand('name', value))).toEqual({ name: value });
    expect(parseFileCommands('a=1\nb<<EOF\nx\nEOF\n')).toEqual({ a: '1', b: 'x' });
  });

  it('reads inputs as @actions/core does', () => {
    const env = { INPUT_PATHS: ' a\n\n  b \n', 'INPUT_FAIL-ON-MISS': 'True', INPUT_X: 'yes' };
    expect(getMultilineInput(env, 'paths')).toEqual(['a', 'b']);
    expect(getBooleanInput(env, 'fail-on-miss')).toBe(true);
    expect(() => getBooleanInput(env, 'x')).toThrow(/true or false/);
  });

  it('builds the attach command line from the inputs, and commits only on success', () => {
    const env = {
      INPUT_PATHS: 'node_modules\n/tmp/tool',
      INPUT_FALLBACKS: 'deps@main\ndeps-base',
      INPUT_SIZE: '40g',
      GITHUB_REPOSITORY: 'o/r',
      GITHUB_WORKSPACE: '/w',
      GITHUB_RUN_ID: '7',
      GITHUB_JOB: 'test',
    };
    expect(attachArgs(readAttachRequest(env, '/cwd'))).toEqual(
      ['attach', 'r', '--path', 'node_modules', '--path', '/tmp/tool', '--scope', 'o/r', '--size', '40g']
        .concat(['--fallback', 'deps@main', '--fallback', 'deps-base', '--workdir', '/w'])
        .concat(['--job', 'github:o/r:7:1:test', '--lease', '6h', '--json']),
    );
    expect([
      exitCodeFor('success'),
      exitCodeFor('failure'),
      exitCodeFor('cancelled'),
      exitCodeFor(''),
    ]).toEqual([0, 1, 1, 1]);
  });

  it('declares a node20 action whose post step always runs and reads job.status at that time', () => {
    const yml = actionYml();
    expect(yml.runs).toEqual({
      using: 'node20',
      main: 'dist/main.cjs',
      post: 'dist/post.cjs',
      'post-if': 'always()',
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, not a template
    expect(yml.inputs['job-status']?.default).toBe('${{ job.status }}');
  });
});

describe('the committed bundle', () => {
  it('is what src/ builds to (run `npm run build:action` after changing src/)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'integ-action-build-'));
    try {
      await build({ ...config, outDir: out, silent: true });
      for (const file of ['main.cjs', 'post.cjs'])
        expect(readFileSync(join(out, file), 'utf8'), file).toBe(
          readFileSync(join(ACTION, 'dist', file), 'utf8'),
        );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
