#!/usr/bin/env node
// Builds the workspace packages whose build is missing or out of date, and only those: `npm
// test` runs this before vitest, so a test run after `npm run build` (as in CI), or after
// editing only tests, builds nothing. A package is up to date when every file its
// package.json points into dist/ exists and the oldest file in dist/ is newer than everything
// its build reads: its src/, package.json and tsup config, the shared tsup and TypeScript
// configs, and the installed package.json of each dependency (the CommonJS build inlines some
// of them). tsup has no incremental mode, so a package that changed is rebuilt whole.
//
// Usage: node scripts/build-changed.mjs [--dry-run]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dryRun = process.argv.includes('--dry-run');
const SHARED = ['tsup.base.ts', 'tsconfig.json', 'tsconfig.base.json'].map((name) => join(root, name));

/** Every file under `dir`, recursively. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

/** The installed package.json of `name` as seen from `dir` (Node's lookup: up the tree). */
function installed(dir, name) {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) return manifest;
    if (dirname(at) === at) return undefined;
  }
}

/** Paths into dist/ that a package.json names (main, module, types, exports, bin). */
function promisedOutputs(dir, manifest) {
  const found = new Set();
  const visit = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./dist/')) found.add(join(dir, value));
    } else if (value && typeof value === 'object') for (const inner of Object.values(value)) visit(inner);
  };
  visit([manifest.main, manifest.module, manifest.types, manifest.exports, manifest.bin]);
  return [...found];
}

/** Why the package in `dir` needs a build, or `undefined` when its dist is up to date. */
function staleness(dir, manifest) {
  const missing = promisedOutputs(dir, manifest).find((path) => !existsSync(path));
  if (missing) return `${relative(root, missing)} is missing`;
  const outputs = filesUnder(join(dir, 'dist'));
  if (outputs.length === 0) return 'dist/ is empty';
  const builtAt = Math.min(...outputs.map((path) => statSync(path).mtimeMs));
  const inputs = [
    ...filesUnder(join(dir, 'src')),
    join(dir, 'package.json'),
    ...readdirSync(dir)
      .filter((name) => /^(tsup\.config|tsconfig)\b/.test(name))
      .map((name) => join(dir, name)),
    ...SHARED,
    ...Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })
      .filter((name) => !name.startsWith('@cachevol/'))
      .map((name) => installed(dir, name))
      .filter((path) => path !== undefined),
  ];
  const newer = inputs.find((path) => existsSync(path) && statSync(path).mtimeMs > builtAt);
  return newer ? `${relative(root, newer)} is newer than dist/` : undefined;
}

const packagesDir = join(root, 'packages');
const fresh = [];
let failed = false;
for (const name of readdirSync(packagesDir).sort()) {
  const dir = join(packagesDir, name);
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (!manifest.scripts?.build) continue;
  const why = staleness(dir, manifest);
  if (why === undefined) {
    fresh.push(name);
    continue;
  }
  console.log(`build: ${name} (${why})${dryRun ? ' [dry run]' : ''}`);
  if (dryRun) continue;
  const started = performance.now();
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${name} failed (${result.error ?? `exit code ${result.status}`})`);
    failed = true;
    break;
  }
  console.log(`build: ${name} built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
if (fresh.length > 0) console.log(`build: up to date: ${fresh.join(', ')}`);
process.exit(failed ? 1 : 0);
