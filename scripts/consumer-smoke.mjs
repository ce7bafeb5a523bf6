// The consumer smoke test: packs the built workspace packages as npm would publish them,
// installs the tarballs into fresh projects (their other dependencies come from the registry),
// and uses them there as a user would:
// - the CLI alone (with the @cachevol packages it depends on): none of the other backends'
//   dependencies installed; `cachevol` --version, --help, a run that misses and then hits on the
//   dir backend, ls --json;
// - every package imported from ESM and required from CommonJS;
// - @cachevol/core and @cachevol/backend-memory alone: the README's API tour, as written,
//   type-checked by tsc under node16, nodenext and bundler resolution and run;
// - the backend conformance suite of @cachevol/core/testing run by vitest against
//   @cachevol/backend-memory.
// Run it after `npm run build`: `npm run test:consumer`. Exits 1 on the first failure.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'cachevol-consumer-'));
const log = (line) => console.error(`[consumer] ${line}`);
const manifest = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const rootDevDependency = (name) => `${name}@${manifest(root).devDependencies[name]}`;

function run(file, args, cwd, options = {}) {
  return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function check(what, ok, detail) {
  if (!ok) throw new Error(`${what}: ${detail}`);
  log(`ok: ${what}`);
}

function project(name, type) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, private: true, type }, null, 2)}\n`);
  return dir;
}

function install(dir, specs) {
  log(`${dir}: npm install ${specs.map((spec) => (spec.startsWith('/') ? basename(spec) : spec)).join(' ')}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], dir, { stdio: 'inherit' });
}

/** The first ```ts block after the README's "A short API tour" heading. */
function readmeTour() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A short API tour'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README.md: no ```ts block under "A short API tour"');
  return match[1];
}

function checkCli(dir) {
  for (const unwanted of ['@cachevol/backend-sparsebundle', 'plist', '@xmldom/xmldom', 'execa']) {
    check(
      `the CLI alone does not install ${unwanted}`,
      !existsSync(join(dir, 'node_modules', unwanted)),
      `node_modules/${unwanted} exists`,
    );
  }
  const bin = join(dir, 'node_modules', '.bin', 'cachevol');
  const { version } = manifest(join(root, 'packages', 'cli'));
  check('cachevol --version', run(bin, ['--version'], dir).trim() === version, `expected ${version}`);
  const help = run(bin, ['--help'], dir);
  check(
    'cachevol --help',
    help.startsWith('Usage: cachevol COMMAND') && help.includes('  run'),
    help.slice(0, 200),
  );

  const state = join(work, 'state');
  mkdirSync(join(dir, 'deps'));
  const job = ['run', '--root', state, '--name', 'deps', '--cache', 'deps', '--'];
  const write = [process.execPath, '-e', "require('fs').writeFileSync('deps/built', 'yes')"];
  run(bin, [...job, ...write], dir);
  const read = [process.execPath, '-e', "process.exit(require('fs').existsSync('deps/built') ? 0 : 3)"];
  run(bin, [...job, ...read], dir);
  check('cachevol run: a miss that commits, then a hit that sees its files', true, '');
  const listed = JSON.parse(run(bin, ['ls', '--json', '--root', state], dir));
  check('cachevol ls --json', listed.volumes.length === 1, JSON.stringify(listed));
}

function checkModuleFormats(dir, names) {
  for (const name of names) {
    const esm = run(
      process.execPath,
      ['--input-type=module', '-e', `import('${name}').then((m) => console.log(Object.keys(m).length))`],
      dir,
    );
    check(`import('${name}') (ESM)`, Number(esm) > 0, esm);
    const cjs = run(process.execPath, ['-e', `console.log(Object.keys(require('${name}')).length)`], dir);
    check(`require('${name}') (CommonJS)`, Number(cjs) > 0, cjs);
  }
  const main = run(
    process.execPath,
    ['-e', "const m = require('@cachevol/cli'); console.log(typeof m.main, m.EXIT_CODES.USAGE)"],
    dir,
  );
  check("require('@cachevol/cli').main", main.trim() === 'function 2', main);
}

const TSCONFIGS = {
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};

function checkTour(dir) {
  writeFileSync(join(dir, 'tour.ts'), readmeTour());
  const tsc = join(dir, 'node_modules', '.bin', 'tsc');
  for (const [name, options] of Object.entries(TSCONFIGS)) {
    const config = {
      compilerOptions: {
        ...options,
        target: 'es2022',
        strict: true,
        skipLibCheck: false,
        types: ['node'],
        outDir: `out-${name}`,
      },
      files: ['tour.ts'],
    };
    writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
    try {
      run(tsc, ['-p', `tsconfig.${name}.json`], dir);
    } catch (error) {
      throw new Error(`tsc (${name}) on the README's API tour failed:\n${error.stdout}${error.stderr}`);
    }
    log(`ok: the README's API tour type-checks with moduleResolution ${options.moduleResolution}`);
  }
  const output = run(process.execPath, [join('out-nodenext', 'tour.js')], dir);
  check(
    "the README's API tour runs as written (a miss, then a fallback fork of the committed head)",
    output.startsWith('miss ') && output.includes("result: 'hit'"),
    output,
  );
}

function checkConformance(dir) {
  writeFileSync(
    join(dir, 'conformance.test.js'),
    [
      "import { describeBackendConformance } from '@cachevol/core/testing';",
      "import { createMemoryBackend, memoryFileAccess } from '@cachevol/backend-memory';",
      'let current;',
      "describeBackendConformance('memory', {",
      '  create: () => {',
      '    current = createMemoryBackend();',
      '    return { backend: current };',
      '  },',
      '  files: memoryFileAccess(() => current),',
      '});',
      '',
    ].join('\n'),
  );
  try {
    const out = run(join(dir, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=dot'], dir, {
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    });
    check(
      'the backend conformance suite passes against @cachevol/backend-memory (vitest)',
      /passed/.test(out),
      out,
    );
  } catch (error) {
    throw new Error(`the conformance suite failed:\n${error.stdout}${error.stderr}`);
  }
}

try {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packages = readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir))
    .filter((dir) => !manifest(dir).private);
  const tarball = {};
  for (const dir of packages) {
    const name = manifest(dir).name;
    const file = run('npm', ['pack', '--silent', '--pack-destination', tarballs], dir)
      .trim()
      .split('\n')
      .pop();
    tarball[name] = join(tarballs, file);
    const listed = run('tar', ['-tzf', tarball[name]], tarballs);
    for (const wanted of ['package/README.md', 'package/LICENSE', 'package/package.json']) {
      check(`${file} holds ${wanted.slice(8)}`, listed.includes(wanted), listed);
    }
  }
  log(`packed ${packages.length} packages`);

  // The CLI as a user installs it: @cachevol/cli, plus the @cachevol packages it depends on
  // (not on the registry yet, so given as tarballs too).
  const cli = project('cli', 'commonjs');
  const cliDependencies = Object.keys(manifest(join(root, 'packages', 'cli')).dependencies).filter((name) =>
    name.startsWith('@cachevol/'),
  );
  log('better-sqlite3 may build from source: a few minutes');
  install(cli, [tarball['@cachevol/cli'], ...cliDependencies.map((name) => tarball[name])]);
  checkCli(cli);
  install(cli, Object.values(tarball));
  checkModuleFormats(cli, Object.keys(tarball));

  // The SDK with the memory backend, as the README's tour uses it: no testing peers installed.
  const sdk = project('sdk', 'module');
  install(sdk, [
    tarball['@cachevol/core'],
    tarball['@cachevol/backend-memory'],
    rootDevDependency('typescript'),
    rootDevDependency('@types/node'),
  ]);
  checkTour(sdk);
  install(sdk, [rootDevDependency('vitest'), rootDevDependency('fast-check')]);
  checkConformance(sdk);
  log('all checks passed');
} catch (error) {
  console.error(`[consumer] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  if (error?.stderr) console.error(String(error.stderr));
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
