import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, REPO, sandbox, tempDir } from './helpers/cli.js';

/**
 * `--fallback NAME[@SCOPE]` with the dir backend: a feature branch's volume starts from main's,
 * commits to its own, and main is left as it was; with a checksum-named volume it works like
 * actions/cache `restore-keys`.
 */

let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('fallback'));
});
afterAll(() => cleanup());

/** A command that prints `c/seen` (or `none`) and then writes `text` to `c/seen`. */
const swap = (text: string) => [
  process.execPath,
  '-e',
  `const fs=require('fs');let s='none';try{s=fs.readFileSync('c/seen','utf8')}catch{}console.log('seen:'+s);fs.writeFileSync('c/seen',${JSON.stringify(text)})`,
];

describe('cachevol --fallback', () => {
  it("a feature branch falls back to main's volume, sees its files, commits to its own; main is unchanged", async () => {
    const { run } = await sandbox(base, 'branch');
    const job = (scope: string, text: string, extra: string[] = []) =>
      run(['run', '--name', 'deps', '--scope', scope, '--cache', 'c', ...extra, '--', ...swap(text)]);

    const main = await job('main', 'main-1');
    expect(main.code, main.stderr).toBe(0);
    type Listed = { scope: string; headId: string; versions: unknown[] };
    const ls = async () => JSON.parse((await run(['ls', '--json'])).stdout).volumes as Listed[];
    const mainBefore = (await ls()).find((v) => v.scope === 'main') as Listed;
    const mainHead = mainBefore.headId;

    const feature = await job('feature-x', 'feature-1', ['--fallback', 'deps@main']);
    expect(feature.code, feature.stderr).toBe(0);
    expect(feature.stdout).toContain('seen:main-1');
    expect(feature.stderr).toContain(
      `feature-x/deps: miss, restored from main/deps (version ${mainHead}), attached in`,
    );
    expect(feature.stderr).toMatch(/feature-x\/deps: committed as v-/);

    const again = await job('feature-x', 'feature-2', ['--fallback', 'deps@main']);
    expect(again.stdout).toContain('seen:feature-1');
    expect(again.stderr).toMatch(/feature-x\/deps: hit \(version v-[^)]+\), attached in/);

    const mainNow = (await ls()).find((v) => v.scope === 'main') as Listed;
    const ignoreUse = (versions: unknown[]) => versions.map((v) => ({ ...(v as object), lastUsedAt: null }));
    expect(ignoreUse(mainNow.versions)).toEqual(ignoreUse(mainBefore.versions));
    const mainAgain = await job('main', 'main-2');
    expect(mainAgain.stdout).toContain('seen:main-1');
    expect(mainAgain.stderr).toContain(`main/deps: hit (version ${mainHead})`);
    const stats = JSON.parse((await run(['stats', '--json'])).stdout);
    const counts = (scope: string) =>
      stats.volumes.find((v: { scope: string }) => v.scope === scope)?.counts as Record<string, number>;
    expect(counts('main')).toMatchObject({ hit: 1, stale: 0, miss: 1 });
    expect(counts('feature-x')).toMatchObject({ hit: 1, stale: 0, miss: 1 });
  });

  it('attach --json says where the data came from; no usable fallback is an empty miss', async () => {
    const { run } = await sandbox(base, 'attach');
    const none = JSON.parse((await run(['attach', 'deps', '--fallback', 'base', '--json'])).stdout);
    expect(none).toMatchObject({ result: 'miss', baseVersionId: null, source: null });
    expect((await run(['finish', none.forkId, '--exit-code', '0'])).code).toBe(0);

    const fromDeps = JSON.parse(
      (await run(['attach', 'other', '--fallback', 'nothing', '--fallback', 'deps', '--json'])).stdout,
    );
    expect(fromDeps.result).toBe('miss');
    expect(fromDeps.source).toEqual({
      scope: 'default',
      name: 'deps',
      versionId: expect.stringMatching(/^v-/),
      result: 'hit',
    });
  });

  it('refuses a bad --fallback before attaching anything', async () => {
    const { run } = await sandbox(base, 'bad');
    const many = Array.from({ length: 9 }, (_, i) => ['--fallback', `v${i}`]).flat();
    const tooMany = await run(['attach', 'deps', ...many]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('--fallback: at most 8 fallback volumes, got 9');
    const badScope = await run(['attach', 'deps', '--fallback', 'deps@a b']);
    expect(badScope.code).not.toBe(0);
    expect(badScope.stderr).toContain('Invalid fallback scope "a b"');
    expect(JSON.parse((await run(['ls', '--json'])).stdout).volumes).toEqual([]);
  });

  it('pipeline.yml `fallbacks` falls back the same way in pipeline run', async () => {
    const { run, work } = await sandbox(base, 'pipeline');
    const main = await run([
      'run',
      '--name',
      'deps',
      '--scope',
      'main',
      '--cache',
      'c',
      '--',
      ...swap('main-1'),
    ]);
    expect(main.code, main.stderr).toBe(0);
    await writeFile(
      join(work, 'pipeline.yml'),
      `cache:\n  name: deps\n  paths: c\n  fallbacks: [{ name: deps, scope: main }]\nsteps:\n  - command: ${JSON.stringify(
        swap('feature-1')
          .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
          .join(' '),
      )}\n`,
    );
    const plan = await run([
      'pipeline',
      'plan',
      'pipeline.yml',
      '--slug',
      'app',
      '--scope',
      'feature',
      '--json',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout).steps[0].volumes[0];
    expect(planned).toMatchObject({
      wouldGet: 'miss',
      versionId: null,
      source: { scope: 'main', name: 'deps', result: 'hit' },
      fallbacks: [{ name: 'deps', scope: 'main' }],
    });
    const piped = await run(['pipeline', 'run', 'pipeline.yml', '--slug', 'app', '--scope', 'feature']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toContain('seen:main-1');
    expect(piped.stderr).toContain('feature/deps: miss, restored from main/deps (version v-');
    const again = await run([
      'run',
      '--name',
      'deps',
      '--scope',
      'feature',
      '--cache',
      'c',
      '--',
      ...swap('x'),
    ]);
    expect(again.stdout).toContain('seen:feature-1');
  });

  it('restore-keys: checksum-named volumes fall back to main, then to the last lockfile, and commit their own', async () => {
    const { run, work } = await sandbox(base, 'restore-keys');
    await cp(join(REPO, 'packages/cli/test/fixtures/npm-project'), work, { recursive: true });
    const NAME = 'deps-{{ checksum "package-lock.json" }}';
    const job = (scope: string, text: string, extra: string[] = []) =>
      run(['run', '--name', NAME, '--scope', scope, '--cache', 'c', ...extra, '--', ...swap(text)]);

    const main = await job('main', 'lock-1');
    expect(main.code, main.stderr).toBe(0);
    const oldName = /main\/(deps-[0-9a-f]{16}): miss/.exec(main.stderr)?.[1] as string;
    expect(oldName).toBeDefined();

    // Same lockfile on a branch: its own key misses, main's key with the same checksum is used.
    const branch = await job('feature', 'branch-1', ['--fallback', `${NAME}@main`]);
    expect(branch.code, branch.stderr).toBe(0);
    expect(branch.stdout).toContain('seen:lock-1');
    expect(branch.stderr).toContain(`feature/${oldName}: miss, restored from main/${oldName} (version v-`);

    // A new lockfile: no volume has its key; the next fallback, the last lockfile's, is used.
    const lock = join(work, 'package-lock.json');
    await writeFile(lock, (await readFile(lock, 'utf8')).replace('"name"', '"name" ').trimEnd());
    const keys = ['--fallback', `${NAME}@main`, '--fallback', `${oldName}@main`];
    const changed = await job('feature', 'lock-2', keys);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain('seen:lock-1');
    const restored = /feature\/(deps-[0-9a-f]{16}): miss, restored from main\/(deps-[0-9a-f]{16})/.exec(
      changed.stderr,
    );
    expect(restored?.[2]).toBe(oldName);
    expect(restored?.[1]).not.toBe(oldName);

    const same = await job('feature', 'lock-2b', keys);
    expect(same.stdout).toContain('seen:lock-2');
    expect(same.stderr).toContain(`feature/${restored?.[1]}: hit`);
  });
});
