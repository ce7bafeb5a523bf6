import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepository } from '../../../test-support/git-fixture.mjs';
import { ensureBuilt, REPO, sandbox, tempDir } from './helpers/cli.js';

/**
 * docs/cli.md shows each command's `--json` output after a `<!-- json: COMMAND -->` marker. The
 * output of the built binary must have exactly those fields, at every level, with the same
 * types (a `null` in the example stands for "null or a value").
 */

/** The examples in docs/cli.md, by command. */
function examples(): Map<string, unknown> {
  const text = readFileSync(join(REPO, 'docs/cli.md'), 'utf8');
  const found = new Map<string, unknown>();
  for (const match of text.matchAll(/<!-- json: ([a-z -]+) -->\n```json\n([\s\S]*?)\n```/g))
    found.set(match[1] as string, JSON.parse(match[2] as string));
  return found;
}

/** Where `actual` differs in shape from `example` (field names and types), as paths. */
function differences(example: unknown, actual: unknown, at = '$'): string[] {
  if (example === null || actual === null) return [];
  if (Array.isArray(example) || Array.isArray(actual)) {
    if (!Array.isArray(example) || !Array.isArray(actual)) return [`${at}: array in one, not the other`];
    return example.length > 0 && actual.length > 0 ? differences(example[0], actual[0], `${at}[0]`) : [];
  }
  if (typeof example !== typeof actual)
    return [`${at}: ${typeof example} in the docs, ${typeof actual} printed`];
  if (typeof example !== 'object') return [];
  const documented = example as Record<string, unknown>;
  const printed = actual as Record<string, unknown>;
  const out: string[] = [];
  for (const key of Object.keys(documented))
    if (!(key in printed)) out.push(`${at}.${key}: documented, not printed`);
  for (const key of Object.keys(printed)) {
    if (!(key in documented)) out.push(`${at}.${key}: printed, not documented`);
    else out.push(...differences(documented[key], printed[key], `${at}.${key}`));
  }
  return out;
}

let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('json-reference'));
});
afterAll(() => cleanup());

describe('--json output matches the reference in docs/cli.md', () => {
  it('for every command that prints JSON', async () => {
    const { run, work } = await sandbox(base, 'json');
    const json = async (args: string[]) => {
      const result = await run([...args, '--json']);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    };
    await writeFile(
      join(work, 'pipeline.yml'),
      'cache: node_modules\nsteps:\n  - label: build\n    command: npm ci\n',
    );
    const printed = new Map<string, unknown>();
    printed.set('attach', await json(['attach', 'deps', '--path', 'node_modules']));
    const forkId = (printed.get('attach') as { forkId: string }).forkId;
    printed.set('heartbeat', await json(['heartbeat', forkId]));
    printed.set('finish', await json(['finish', forkId, '--exit-code', '0']));
    const second = (await json(['attach', 'deps'])).forkId as string;
    printed.set('commit', await json(['commit', second]));
    const third = (await json(['attach', 'deps', '--path', 'node_modules'])).forkId as string;
    printed.set('ls', await json(['ls']));
    printed.set('stats', await json(['stats']));
    printed.set('abandon', await json(['abandon', third]));
    await json(['attach', 'deps', '--job', 'ci-job-1']);
    printed.set('finish-job', await json(['finish-job', 'ci-job-1', '--exit-code', '0']));
    await json(['attach', 'deps', '--job', 'ci-job-2']);
    printed.set('abandon-job', await json(['abandon-job', 'ci-job-2']));
    printed.set('gc', await json(['gc']));
    printed.set('pipeline plan', await json(['pipeline', 'plan', 'pipeline.yml', '--slug', 'app']));
    printed.set('rm', await json(['rm', 'deps']));
    const repository = join(base, 'acme', 'widgets.git');
    await makeRepository(repository, { commits: 2, files: 5, changes: 1 });
    printed.set('git-checkout', await json(['git-checkout', repository, 'widgets', '--ref', 'main']));

    const documented = examples();
    expect([...documented.keys()].sort()).toEqual([...printed.keys()].sort());
    for (const [command, output] of printed)
      expect(differences(documented.get(command), output), command).toEqual([]);
  });

  it('finds a field that is printed but not documented, and a type that differs', () => {
    expect(differences({ a: 1, b: [{ c: 'x' }] }, { a: 1, b: [{ c: 'x', d: 2 }], e: null })).toEqual([
      '$.b[0].d: printed, not documented',
      '$.e: printed, not documented',
    ]);
    expect(differences({ a: 1 }, { a: '1' })).toEqual(['$.a: number in the docs, string printed']);
    expect(differences({ a: [] }, { a: {} })).toEqual(['$.a: array in one, not the other']);
  });
});
