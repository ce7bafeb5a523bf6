import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, REPO, sandbox, tempDir } from './helpers/cli.js';

/**
 * A cache named after the lockfile (`--name 'deps-{{ checksum "package-lock.json" }}'`), as
 * other CI caches key theirs: the same lockfile gets the same volume (a hit), another lockfile a
 * new one (a miss), and nothing outside the working directory can be read.
 */

let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('name-template'));
});
afterAll(() => cleanup());

const NAME = 'deps-{{ checksum "package-lock.json" }}-{{ os }}';

describe('volume names from files', () => {
  it('the same lockfile is a hit, a changed one a new volume; a path out of the checkout is refused', async () => {
    const { run, work } = await sandbox(base, 'lockfile');
    await cp(join(REPO, 'packages/cli/test/fixtures/npm-project'), work, { recursive: true });
    const job = (name = NAME) =>
      run(['run', '--name', name, '--cache', 'c', '--', process.execPath, '-e', '0']);
    const first = await job();
    expect(first.code, first.stderr).toBe(0);
    const named = /default\/(deps-[0-9a-f]{16}-linux): miss/.exec(first.stderr)?.[1];
    expect(named).toBeDefined();
    expect((await job()).stderr).toContain(`default/${named}: hit`);

    const lock = join(work, 'package-lock.json');
    await writeFile(lock, (await readFile(lock, 'utf8')).replace('"name"', '"name" ').trimEnd());
    const changed = await job();
    expect(changed.stderr).toMatch(/default\/deps-[0-9a-f]{16}-linux: miss/);
    expect(changed.stderr).not.toContain(named as string);

    const outside = await job('x-{{ checksum "../../etc/passwd" }}');
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/Cannot checksum "..\/..\/etc\/passwd": a checksum file is a path inside/);
    const missing = await job('x-{{ checksum "nope.lock" }}');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot checksum "nope.lock": ENOENT/);
  });

  it('names pipeline volumes in pipeline plan', async () => {
    const { run, work } = await sandbox(base, 'pipeline');
    await writeFile(join(work, 'package-lock.json'), '{}');
    await writeFile(
      join(work, 'pipeline.yml'),
      `cache:\n  name: '${NAME}'\n  paths: node_modules\nsteps:\n  - command: npm ci\n`,
    );
    const plan = await run(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).steps[0].volumes[0].name).toMatch(/^deps-[0-9a-f]{16}-linux$/);
  });
});
