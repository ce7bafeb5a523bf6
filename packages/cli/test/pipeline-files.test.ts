// biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline.yml values spell ${VAR} literally
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('pipeline-files'));
});
afterAll(() => cleanup());

/** A working directory with `pipeline.yml` holding `text`, a root, and a home directory. */
async function setup(name: string, text: string) {
  const root = join(base, name, 'root');
  const work = join(base, name, 'work');
  const home = join(base, name, 'home');
  await mkdir(work, { recursive: true });
  await mkdir(home, { recursive: true });
  await writeFile(join(work, 'pipeline.yml'), text);
  const run = (args: string[], env: Record<string, string> = {}) =>
    cachevol(args, { cwd: work, env: { CACHEVOL_ROOT: root, HOME: home, ...env } });
  return { work, home, run };
}

describe('cachevol pipeline reads files as Buildkite does (built binary)', () => {
  it('plan: ~ from HOME, $VAR from the environment, a matrix expanded, unknown cache keys warned', async () => {
    const { home, work, run } = await setup(
      'plan',
      [
        'env:',
        '  TOOL: pip',
        'agents: { queue: linux }',
        'steps:',
        '  - label: "test {{matrix.py}}"',
        '    key: test',
        '    command: pytest',
        '    plugins: [{ "docker#v5.11.0": { image: "python" } }]',
        '    matrix: { setup: { py: ["3.11", "3.12"] } }',
        '    cache:',
        '      name: "${TEAM}-py{{matrix.py}}"',
        '      paths: ["~/.cache/${TOOL}", "venv"]',
        '      restore_keys: [main]',
        '  - wait',
        '  - command: { command: make, cache: false }',
        '',
      ].join('\n'),
    );
    const plan = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app', '--json'], { TEAM: 'web' });
    expect(plan.code, plan.stderr).toBe(0);
    const parsed = JSON.parse(plan.stdout);
    expect(parsed.warnings).toEqual([
      expect.objectContaining({
        path: 'steps[0].cache.restore_keys',
        message: expect.stringMatching(/^Unknown key, ignored/),
      }),
    ]);
    expect(
      parsed.steps.map((s: { title: string; matrix: unknown; volumes: { name: string }[] }) => [
        s.title,
        s.matrix,
        s.volumes.map((v) => v.name),
      ]),
    ).toEqual([
      ['test 3.11 (py=3.11)', { py: '3.11' }, ['web-py3.11']],
      ['test 3.12 (py=3.12)', { py: '3.12' }, ['web-py3.12']],
      ['make', null, []],
    ]);
    expect(parsed.steps[0].volumes[0].paths).toEqual([
      {
        path: `${home}/.cache/pip`,
        linkPath: `${home}/.cache/pip`,
        subdir: `.cachevol-root${home}/.cache/pip`,
      },
      { path: 'venv', linkPath: join(work, 'venv'), subdir: 'venv' },
    ]);

    const text = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app'], { TEAM: 'web' });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(
      /^cachevol: warning: .*pipeline\.yml: steps\[0\]\.cache\.restore_keys \(line 13, column 21\): Unknown key, ignored/m,
    );
    expect(text.stdout).toContain('step 2 (steps[0]): test 3.12 (py=3.12)');
  });

  it('plan refuses nested paths of one volume (issue 12: the run could not link them)', async () => {
    const { run } = await setup(
      'nested',
      'cache: [node_modules]\nsteps:\n  - command: make\n    cache: node_modules/.cache\n',
    );
    const plan = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app']);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(
      /steps\[0\]\.cache \(line 4, column 12\): Path "node_modules\/\.cache" lies inside "node_modules", a top-level path of the same volume "app"/,
    );
  });

  it('plan refuses two spellings linked one inside the other on this host (x and /work/x/y)', async () => {
    const { work, run } = await setup('aliases', '');
    await writeFile(
      join(work, 'pipeline.yml'),
      `steps:\n  - command: make\n    cache: [build, "${work}/build/gen"]\n`,
    );
    const plan = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app']);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain(
      `steps[0]: Paths "build" and "${work}/build/gen" are linked at ${work}/build and ${work}/build/gen, one inside the other: list only "build".`,
    );
  });

  it('plan names an unset variable and its place', async () => {
    const { run } = await setup('unset', 'steps:\n  - command: make\n    cache: "$CACHE_DIR/x"\n');
    const plan = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app']);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(
      /steps\[0\]\.cache \(line 3, column 12\): .*the variable CACHE_DIR is not set/,
    );
  });

  it('run: each matrix combination runs as a step, with the ~ path linked under HOME', async () => {
    const { run } = await setup(
      'run',
      [
        'cache: "~/.cache/tool"',
        'steps:',
        '  - label: "build {{matrix}}"',
        '    command: \'echo {{matrix}} >> "$HOME/.cache/tool/log" && cat "$HOME/.cache/tool/log"\'',
        '    matrix: [one, two]',
        '',
      ].join('\n'),
    );
    const result = await run(['pipeline', 'run', 'pipeline.yml', '--slug', 'app']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/step 1 \(build one \(one\)\): exit 0[\s\S]*app\/app: miss/);
    expect(result.stderr).toMatch(/step 2 \(build two \(two\)\): exit 0[\s\S]*app\/app: hit/);
    // The second step sees what the first committed, through the link under HOME.
    expect(result.stdout).toBe('one\none\ntwo\n');
  });
});
