// The consumer smoke test: packs the built workspace packages as npm would publish them,
// installs the tarballs into a fresh project (their other dependencies come from the
// registry), and uses them there as a user would: the `cachevol` command (--version, --help,
// a run that misses and then hits on the dir backend, ls) and the CLI's library from ESM and
// CommonJS. Run it after `npm run build`: `npm run test:consumer`. Exits 1 on the first failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'cachevol-consumer-'));
const log = (line) => console.error(`[consumer] ${line}`);

function run(file, args, cwd, options = {}) {
  return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function check(what, ok, detail) {
  if (!ok) throw new Error(`${what}: ${detail}`);
  log(`ok: ${what}`);
}

try {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packages = readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir))
    .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private);
  for (const dir of packages) run('npm', ['pack', '--silent', '--pack-destination', tarballs], dir);
  const files = readdirSync(tarballs).map((name) => join(tarballs, name));
  log(`packed ${files.length} packages`);

  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true }, null, 2)}\n`,
  );
  log('npm install (better-sqlite3 may build from source: a few minutes)');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], project, {
    stdio: 'inherit',
  });

  const bin = join(project, 'node_modules', '.bin', 'cachevol');
  const { version } = JSON.parse(readFileSync(join(root, 'packages', 'cli', 'package.json'), 'utf8'));
  check('cachevol --version', run(bin, ['--version'], project).trim() === version, `expected ${version}`);
  const help = run(bin, ['--help'], project);
  check(
    'cachevol --help',
    help.startsWith('Usage: cachevol COMMAND') && help.includes('  run'),
    help.slice(0, 200),
  );

  const state = join(work, 'state');
  mkdirSync(join(project, 'deps'));
  const job = ['run', '--root', state, '--name', 'deps', '--cache', 'deps', '--'];
  const write = [process.execPath, '-e', "require('fs').writeFileSync('deps/built', 'yes')"];
  run(bin, [...job, ...write], project);
  const read = [process.execPath, '-e', "process.exit(require('fs').existsSync('deps/built') ? 0 : 3)"];
  run(bin, [...job, ...read], project);
  check('cachevol run: a miss that commits, then a hit that sees its files', true, '');
  const listed = JSON.parse(run(bin, ['ls', '--json', '--root', state], project));
  check('cachevol ls --json', listed.volumes.length === 1, JSON.stringify(listed));

  const esm = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('@cachevol/cli').then((m) => console.log(typeof m.main, m.EXIT_CODES.USAGE))",
    ],
    project,
  );
  check('import @cachevol/cli (ESM)', esm.trim() === 'function 2', esm);
  const cjs = run(
    process.execPath,
    ['-e', "const m = require('@cachevol/cli'); console.log(typeof m.main, m.EXIT_CODES.USAGE)"],
    project,
  );
  check('require @cachevol/cli (CommonJS)', cjs.trim() === 'function 2', cjs);
  log('all checks passed');
} catch (error) {
  console.error(`[consumer] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  if (error?.stderr) console.error(String(error.stderr));
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
