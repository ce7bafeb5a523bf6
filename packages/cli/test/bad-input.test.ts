import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachevol, ensureBuilt, listTree, spawnCachevol, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;
let root: string;
let work: string;
const run = (args: string[]) => cachevol(args, { cwd: work, env: { CACHEVOL_ROOT: root } });

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('bad-input'));
  root = join(base, 'root');
  work = join(base, 'work');
  await mkdir(work);
  await writeFile(join(base, 'bad-pipeline.yml'), 'cache: "../escape"\nsteps:\n  - command: "true"\n');
  // Hostile YAML: an alias bomb ("billion laughs", 10^10 nodes once expanded) and deep nesting.
  const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  await writeFile(join(base, 'bomb.yml'), `${bomb.join('\n')}\ncache: *a9\nsteps:\n  - command: "true"\n`);
  await writeFile(
    join(base, 'deep.yml'),
    `cache: ${'['.repeat(5000)}${']'.repeat(5000)}\nsteps:\n  - command: "true"\n`,
  );
  const ok = await run(['run', '--cache', 'c', '--name', 'deps', '--', process.execPath, '-e', '0']);
  expect(ok.code).toBe(0);
});
afterAll(() => cleanup());

const cases: [string, string[], RegExp][] = [
  ['an unknown command', ['frobnicate'], /^cachevol: unknown command 'frobnicate'/],
  ['an unknown flag', ['ls', '--frob'], /^cachevol: unknown option '--frob' for `cachevol ls`/],
  ['a flag without its value', ['run', '--cache'], /^cachevol: option '--cache' needs a value/],
  ['a missing --', ['run', '--cache', 'c', 'true'], /^cachevol: missing '--' before the command to run/],
  [
    'a size below the minimum',
    ['run', '--size', '10g', '-c', 'c', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Invalid size "10g"/,
  ],
  [
    'a malformed size',
    ['attach', 'deps', '--size', '20gb', '-p', 'c'],
    /^cachevol: INVALID_ARGUMENT: Invalid size "20gb"/,
  ],
  [
    'a path escaping the working directory',
    ['run', '-c', '../outside', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Invalid cache path "..\/outside"/,
  ],
  [
    'a path escaping after a detour',
    ['attach', 'deps', '-p', 'a/../../x'],
    /^cachevol: INVALID_ARGUMENT: Invalid cache path/,
  ],
  [
    'a volume name with traversal (run)',
    ['run', '--name', '../etc', '-c', 'c', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Invalid volume name/,
  ],
  [
    'a volume name with traversal (attach)',
    ['attach', 'deps/../../x', '-p', 'c'],
    /^cachevol: INVALID_ARGUMENT: Invalid volume name/,
  ],
  ['a volume name with traversal (rm)', ['rm', '..'], /^cachevol: INVALID_ARGUMENT: Invalid volume name/],
  [
    'a scope with traversal',
    ['run', '--scope', '../s', '-c', 'c', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Invalid scope/,
  ],
  [
    'a fork id with traversal',
    ['finish', '../../x', '--exit-code', '0'],
    /^cachevol: INVALID_ARGUMENT: Invalid fork id/,
  ],
  [
    'a non-numeric exit code',
    ['finish', 'f-1', '--exit-code', 'zero'],
    /^cachevol: --exit-code: expected an integer/,
  ],
  [
    'an unknown commit mode',
    ['run', '--commit', 'sometimes', '-c', 'c', '--', 'true'],
    /^cachevol: --commit: expected one of/,
  ],
  [
    'an unknown backend',
    ['--backend', 'nfs', 'ls'],
    /^cachevol: --backend: expected one of dir, btrfs, zfs, sparsebundle/,
  ],
  [
    'another backend than the root was made with',
    ['run', '--backend', 'btrfs', '-c', 'c', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: The root .* holds volumes of the dir backend/,
  ],
  [
    'a missing pipeline file',
    ['pipeline', 'run', 'nope.yml', '--slug', 's'],
    /^cachevol: cannot read .*nope.yml: ENOENT/,
  ],
  [
    'a pipeline path escaping its root',
    ['pipeline', 'run', '../bad-pipeline.yml', '--slug', 's'],
    /^cachevol: INVALID_ARGUMENT: Invalid cache configuration in .*bad-pipeline.yml \(1 problem\): cache \(line 1, column 8\): Invalid cache path "..\/escape"/,
  ],
  [
    'a cache path at the cache root (with --replace, it once moved the root aside)',
    ['--root', '.cachevol', 'run', '--replace', '-c', '.cachevol', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Cache path ".cachevol" \(.*\) is the cache root /,
  ],
  [
    'a cache path inside the cache root',
    ['--root', 'r', 'attach', 'deps', '-p', 'r/data'],
    /^cachevol: INVALID_ARGUMENT: Cache path "r\/data" .* is inside the cache root /,
  ],
  [
    'a cache path above the cache root',
    ['--root', 'build/cachevol', 'run', '-c', 'build', '--', 'true'],
    /^cachevol: INVALID_ARGUMENT: Cache path "build" .* contains the cache root /,
  ],
  [
    'a root that is a file',
    ['--root', '/etc/passwd', 'ls'],
    /^cachevol: --root: \/etc\/passwd is not a directory/,
  ],
  ['a lease without its unit (once 5 ms)', ['--lease', '5', 'gc'], /^cachevol: --lease: invalid value "5"/],
  [
    'a pipeline file that is an alias bomb',
    ['pipeline', 'plan', '../bomb.yml', '--slug', 's'],
    /^cachevol: INVALID_ARGUMENT: Invalid cache configuration in .*bomb.yml \(1 problem\): \(syntax\): Excessive alias count/,
  ],
  [
    'a pipeline file nested 5,000 deep',
    ['pipeline', 'plan', '../deep.yml', '--slug', 's'],
    /^cachevol: INVALID_ARGUMENT: Invalid cache configuration in .*deep.yml \(1 problem\): \(syntax\)/,
  ],
  [
    'a missing working directory',
    ['run', '--workdir', 'nowhere', '-c', 'c', '--', 'true'],
    /^cachevol: --workdir: .*nowhere is not an existing directory/,
  ],
  [
    'a peer without a URL',
    ['run', '--peer', 'b', '-c', 'c', '--', 'true'],
    /^cachevol: --peer: invalid peer "b"; write HOST=http:\/\/ADDRESS:PORT/,
  ],
  [
    'a peer URL with a path or credentials',
    ['run', '--peer', 'b=http://u:p@10.0.0.2:7077/x', '-c', 'c', '--', 'true'],
    /^cachevol: --peer: invalid peer/,
  ],
  [
    'a peer named twice',
    ['run', '--peer', 'b=http://10.0.0.2:7077', '--peer', 'b=http://10.0.0.3:7077', '-c', 'c', '--', 'true'],
    /^cachevol: --peer: host "b" is named twice/,
  ],
  [
    'peers without the token',
    ['run', '--peer', 'b=http://10.0.0.2:7077', '-c', 'c', '--', 'true'],
    /^cachevol: --peer needs the fleet's token: set CACHEVOL_TOKEN or --token-file FILE/,
  ],
  [
    'a token file that cannot be read',
    ['serve', '--token-file', 'no-such-token'],
    /^cachevol: --token-file: cannot read .*no-such-token \(ENOENT\)/,
  ],
  ['serve without the token', ['serve'], /^cachevol: serve needs the fleet's shared token/],
  [
    'an object store that is not an s3:// URL',
    ['run', '--objects', 'https://bucket', '-c', 'c', '--', 'true'],
    /^cachevol: --objects: expected s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX/,
  ],
  [
    'an unknown upload format',
    ['run', '--objects', 's3://bucket1/x', '--objects-format', 'zip', '-c', 'c', '--', 'true'],
    /^cachevol: --objects-format: /,
  ],
  ['a host name with a slash', ['ls', '--host', 'a/b'], /^cachevol: --host: expected a host name/],
  [
    'a malformed listen address',
    ['serve', '--listen', '7077'],
    /^cachevol: --listen: invalid address "7077"/,
  ],
  [
    'a transfer budget without its unit',
    ['run', '--transfer-budget', '30', '-c', 'c', '--', 'true'],
    /^cachevol: --transfer-budget: invalid value "30"; write a time with its unit/,
  ],
];

describe('bad input (built binary)', () => {
  it.each(cases)('%s: one clear line, exit 2, nothing changed on disk', async (_what, args, message) => {
    const before = [await listTree(root), await listTree(work), await listTree(base)];
    const result = await run(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect([await listTree(root), await listTree(work), await listTree(base)]).toEqual(before);
  });

  it('a reader that closes the pipe early (`cachevol ls | head -1`) ends it quietly, exit 0', async () => {
    for (const version of ['-V', '--version']) {
      const shown = await run([version]);
      expect(shown.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    }
    const child = spawnCachevol(['ls'], { cwd: work, env: { CACHEVOL_ROOT: root } });
    child.stdout?.destroy(); // the reader is gone before cachevol writes
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('reports errors as JSON with --json, and exits 1 for a failure that is not bad input', async () => {
    const result = await run(['rm', 'no-such-volume', '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('prints help for every command and exits 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const name of [
      'run',
      'attach',
      'finish',
      'commit',
      'abandon',
      'heartbeat',
      'finish-job',
      'abandon-job',
      'pipeline plan',
      'pipeline run',
      'ls',
      'stats',
      'gc',
      'rm',
    ]) {
      expect(help.stdout).toContain(`  ${name} `);
    }
    const runHelp = await run(['run', '--help']);
    expect(runHelp).toMatchObject({ code: 0 });
    expect(runHelp.stdout).toContain('Usage: cachevol run [options] -- COMMAND [ARGS...]');
    expect(runHelp.stdout).toContain('CACHEVOL_ROOT');
  });
});
