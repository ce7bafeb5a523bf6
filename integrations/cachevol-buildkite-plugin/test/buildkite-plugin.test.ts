import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheVolumeSchema } from '@cachevol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { abandonAttached, cachevol, ensureBuilt, REPO } from '../../../packages/cli/test/helpers/cli.js';
import { PLUGIN, pluginEnv, runHook } from './agent.js';

let base: string;
beforeAll(async () => {
  ensureBuilt();
  base = await mkdtemp(join(tmpdir(), 'integ-buildkite-'));
});
/** The roots the tests made: what a failed test left attached is abandoned before they are removed. */
const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await abandonAttached(root);
  await rm(base, { recursive: true, force: true });
});

interface Listed {
  volumes: { scope: string; name: string; headId: string | null; forks: { state: string; job: string }[] }[];
}

/** An agent host: one cachevol root shared by its jobs, and the jobs of one pipeline. */
async function agent(name: string, slug = 'web-app', agentEnv: Record<string, string> = {}) {
  const root = join(base, name, 'root');
  roots.push(root);
  let jobs = 0;
  const ls = async (): Promise<Listed> => {
    const listed = await cachevol(['ls', '--json'], { cwd: base, env: { CACHEVOL_ROOT: root } });
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as Listed;
  };
  const attached = async () =>
    (await ls()).volumes.flatMap((v) => v.forks.filter((f) => f.state === 'attached'));
  /**
   * One job as the agent runs it: a fresh checkout, the plugin's pre-command hook, the command
   * (`command`, which returns its exit status, or `cancel` for a job cancelled while it runs),
   * then post-command with BUILDKITE_COMMAND_EXIT_STATUS (not for a cancelled job) and pre-exit.
   */
  const job = async (
    configuration: Record<string, unknown>,
    command: (checkout: string, env: Record<string, string>) => Promise<number | 'cancel'>,
  ) => {
    jobs++;
    const checkout = join(base, name, `builds-${jobs}`, 'org', slug);
    await mkdir(checkout, { recursive: true });
    const env = {
      PATH: `${join(REPO, 'node_modules/.bin')}:${process.env.PATH}`,
      HOME: process.env.HOME ?? base,
      CACHEVOL_ROOT: root,
      NO_COLOR: '1',
      BUILDKITE: 'true',
      BUILDKITE_JOB_ID: randomUUID(),
      BUILDKITE_PIPELINE_SLUG: slug,
      BUILDKITE_BUILD_CHECKOUT_PATH: checkout,
      BUILDKITE_TIMEOUT: 'false',
      ...agentEnv,
      ...pluginEnv('cachevol', configuration),
    };
    const envFile = join(base, name, `builds-${jobs}`, 'env');
    const pre = await runHook('pre-command', env, envFile);
    const jobEnv = pre.code === 0 ? pre.env : env;
    const status = pre.code === 0 ? await command(checkout, jobEnv) : 'cancel';
    const post =
      status === 'cancel'
        ? undefined
        : await runHook(
            'post-command',
            { ...jobEnv, BUILDKITE_COMMAND_EXIT_STATUS: String(status) },
            envFile,
          );
    const exit = await runHook('pre-exit', jobEnv, envFile);
    return { pre, post, exit, checkout, job: `buildkite-${env.BUILDKITE_JOB_ID}` };
  };
  return { job, ls, attached };
}

describe('the Buildkite plugin, its hooks as an agent runs them', () => {
  it('misses and commits on exit 0; hits with those files; a failed or cancelled job commits nothing', async () => {
    const { job, ls, attached } = await agent('lifecycle');

    let forkId: string | undefined;
    const first = await job({ paths: 'node_modules' }, async (checkout, commandEnv) => {
      forkId = commandEnv.CACHEVOL_FORK_ID;
      await writeFile(join(checkout, 'node_modules', 'left-pad.js'), 'module.exports = 1;\n');
      return 0;
    });
    expect(forkId).toMatch(/^f-/);
    expect(first.post?.stdout).toContain(`${forkId} committed as v-`);
    expect(first.pre.code, first.pre.stderr).toBe(0);
    expect(first.pre.stderr).toContain('web-app/web-app: miss');
    expect(first.post?.code, first.post?.stderr).toBe(0);
    expect(first.post?.stdout).toMatch(/web-app\/web-app: f-\S+ committed as v-/);
    expect(first.exit).toMatchObject({ code: 0 });
    expect(first.exit.stdout).toContain('no attached fork');
    const volumes = (await ls()).volumes;
    expect(volumes.map((v) => `${v.scope}/${v.name}`)).toEqual(['web-app/web-app']);
    const head = volumes[0]?.headId;
    expect(head).toMatch(/^v-/);

    const failed = await job({ paths: ['node_modules'] }, async (checkout) => {
      expect(readdirSync(join(checkout, 'node_modules'))).toEqual(['left-pad.js']);
      await writeFile(join(checkout, 'node_modules', 'broken.js'), 'half-written\n');
      return 3;
    });
    expect(failed.pre.stderr).toContain(`web-app/web-app: hit (version ${head})`);
    expect(failed.post?.code).toBe(0);
    expect((await ls()).volumes[0]?.headId).toBe(head);
    expect(failed.post?.stdout).toContain('abandoned');

    const cancelled = await job({ paths: ['node_modules'] }, async (checkout) => {
      await writeFile(join(checkout, 'node_modules', 'cancelled.js'), 'x\n');
      return 'cancel';
    });
    expect(cancelled.post).toBeUndefined();
    expect(cancelled.exit.code).toBe(0);
    expect(await attached()).toEqual([]);
    expect(cancelled.exit.stdout).toMatch(/web-app\/web-app: f-\S+ abandoned/);
    expect(existsSync(join(cancelled.checkout, 'node_modules', 'cancelled.js'))).toBe(false);
    expect((await ls()).volumes[0]?.headId).toBe(head);

    const third = await job({ paths: ['node_modules'] }, async (checkout) => {
      expect(readdirSync(join(checkout, 'node_modules'))).toEqual(['left-pad.js']);
      return 0;
    });
    expect(third.post?.stdout).toContain('committed as v-');
    expect(await attached()).toEqual([]);
  });

  it('takes the object form: name, size and fallbacks, in the pipeline scope or another', async () => {
    const { job, ls } = await agent('object-form', 'api');
    await job({ paths: 'vendor', name: 'gems-main' }, async (checkout) => {
      await writeFile(join(checkout, 'vendor', 'rack.rb'), 'rack\n');
      return 0;
    });
    const configuration = {
      paths: ['vendor', '.bundle-cache'],
      name: 'gems',
      size: '40g',
      fallbacks: ['no-such-volume', { name: 'gems-main', scope: 'api' }],
    };
    expect(cacheVolumeSchema.safeParse(configuration).success).toBe(true);
    const restored = await job(configuration, async (checkout) => {
      expect(await readFile(join(checkout, 'vendor', 'rack.rb'), 'utf8')).toBe('rack\n');
      expect(existsSync(join(checkout, '.bundle-cache'))).toBe(true);
      return 0;
    });
    expect(restored.pre.stderr).toContain('api/gems: miss, restored from api/gems-main');
    expect((await ls()).volumes.map((v) => `${v.scope}/${v.name}`).sort()).toEqual([
      'api/gems',
      'api/gems-main',
    ]);
  });

  it('fails the job on a configuration cachevol refuses, and runs it uncached on cache trouble', async () => {
    const { job, attached } = await agent('trouble');
    const tooSmall = await job({ paths: 'node_modules', size: '10g' }, async () => 0);
    expect(tooSmall.pre.code).toBe(2);
    expect(tooSmall.pre.stderr).toContain('Invalid size "10g"');
    const noPaths = await job({ name: 'x' }, async () => 0);
    expect(noPaths.pre.code).toBe(2);
    expect(noPaths.pre.stderr).toContain('needs paths');

    const { job: jobWithoutCli } = await agent('no-cli', 'web-app', {
      CACHEVOL_BIN: join(base, 'no-such-cachevol'),
    });
    const absent = await jobWithoutCli({ paths: 'node_modules' }, async () => 0);
    expect(absent.pre.code).toBe(0);
    expect(absent.pre.stderr).toContain('not cached this run');
    expect(absent.post?.code).toBe(0);
    expect(absent.exit.code).toBe(0);
    expect(await attached()).toEqual([]);
  });
});

describe('the plugin files', () => {
  it('plugin.yml accepts the keys of a cache: volume, and only those', () => {
    const yml = parse(readFileSync(join(PLUGIN, 'plugin.yml'), 'utf8')) as {
      configuration: {
        properties: Record<string, unknown>;
        required: string[];
        additionalProperties: boolean;
      };
    };
    const shape = (cacheVolumeSchema as unknown as { shape: Record<string, unknown> }).shape;
    expect(Object.keys(yml.configuration.properties).sort()).toEqual(Object.keys(shape).sort());
    expect(yml.configuration).toMatchObject({ required: ['paths'], additionalProperties: false });
  });

  const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
  it.skipIf(!shellcheck && process.env.CI !== 'true')('hooks are shellcheck-clean bash', () => {
    const files = [...readdirSync(join(PLUGIN, 'hooks')).map((h) => join('hooks', h)), 'lib/cachevol.bash'];
    const result = spawnSync('shellcheck', ['-x', '--shell=bash', ...files], {
      cwd: PLUGIN,
      encoding: 'utf8',
    });
    expect(result.error).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const hook of readdirSync(join(PLUGIN, 'hooks')))
      expect(readFileSync(join(PLUGIN, 'hooks', hook), 'utf8')).toContain('\nset -euo pipefail\n');
  });
});
