/**
 * Real tools through `cachevol run`, first run (a miss) against second run (a hit), whole
 * process, in one run of this script: `npm install` (the second `--offline` with an empty npm
 * cache), `npm ci`, a C build with ccache + gcc, and `tsc --incremental`, on the dir backend and
 * (as root, with btrfs-progs) on btrfs. Each tool also runs without cachevol on a fresh copy
 * (what a job with no cache pays every time).
 *
 * Uses the test fixtures of the CLI (`packages/cli/test/fixtures`), made larger for the C and
 * TypeScript builds by copying their units, and the built CLI (`npm run build` first).
 *
 *   node bench/src/real-tools.mjs [--reps 3] [--only npm-install,npm-ci,ccache,tsc] [--no-btrfs]
 *                                 [--out bench/results/real-tools.json]
 *
 * Needs network access to the npm registry for the npm subjects. Prints a markdown table.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLoopBtrfs } from './loop-btrfs.mjs';
import { formatMs, messageOf, now, round, run } from './util.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'packages/cli/dist/cli.cjs');
const FIXTURES = join(REPO, 'packages/cli/test/fixtures');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    only: { type: 'string' },
    'no-btrfs': { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench/results/real-tools.json') },
    'c-units': { type: 'string', default: '40' },
    'ts-files': { type: 'string', default: '60' },
  },
});
const reps = Number(opts.reps);

/** The environment of every run: this one without npm's own variables. */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
const env = (extra = {}) => ({ ...baseEnv, NO_COLOR: '1', npm_config_update_notifier: 'false', ...extra });

/** Runs a program in `cwd`, timed as a whole process; fails loudly on a non-zero exit. */
async function timed(cwd, file, args, extra = {}) {
  const started = now();
  const result = await new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
  const ms = now() - started;
  if (result.code !== 0)
    throw new Error(`${file} ${args.join(' ')} in ${cwd} exited ${result.code}: ${result.out.slice(-800)}`);
  return { ms, out: result.out };
}

const npmFlags = ['--no-audit', '--no-fund', '--loglevel=warn'];

/** Copies a fixture and scales it up. */
async function fixture(kind, dest) {
  await cp(join(FIXTURES, kind), dest, { recursive: true });
  if (kind === 'c-project') {
    const unit = await readFile(join(dest, 'unit1.c'), 'utf8');
    for (let i = 5; i <= Number(opts['c-units']); i++)
      await writeFile(join(dest, `unit${i}.c`), unit.replaceAll('unit1', `unit${i}`));
  }
  if (kind === 'ts-project') {
    const file = await readFile(join(dest, 'src/shapes1.ts'), 'utf8');
    for (let i = 4; i <= Number(opts['ts-files']); i++)
      await writeFile(
        join(dest, `src/shapes${i}.ts`),
        file.replaceAll('Shape1', `Shape${i}`).replaceAll('area1', `area${i}`),
      );
  }
}

/**
 * The subjects: the fixture, the cache path, and the command of each run (with what to do
 * between runs, as a fresh checkout would).
 */
const SUBJECTS = {
  'npm-install': {
    fixture: 'npm-project',
    path: 'node_modules',
    first: async (dir) => [
      'npm',
      ['install', ...npmFlags, '--cache', await mkdtemp(join(dir, '..', 'npmc-'))],
    ],
    second: async (dir) => [
      'npm',
      ['install', '--offline', ...npmFlags, '--cache', await mkdtemp(join(dir, '..', 'npmc-'))],
    ],
  },
  'npm-ci': {
    fixture: 'npm-project',
    path: 'node_modules',
    first: async (dir) => ['npm', ['ci', ...npmFlags, '--cache', await mkdtemp(join(dir, '..', 'npmc-'))]],
    second: async (dir) => ['npm', ['ci', ...npmFlags, '--cache', await mkdtemp(join(dir, '..', 'npmc-'))]],
  },
  ccache: {
    fixture: 'c-project',
    path: '.ccache',
    env: (dir) => ({ CCACHE_DIR: join(dir, '.ccache') }),
    first: async () => [process.execPath, ['build.mjs']],
    between: (dir) => rm(join(dir, 'out'), { recursive: true, force: true }),
    second: async () => [process.execPath, ['build.mjs']],
  },
  tsc: {
    fixture: 'ts-project',
    path: '.tscache',
    first: async () => [process.execPath, [TSC, '-p', '.']],
    second: async () => [process.execPath, [TSC, '-p', '.']],
  },
};

const median = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

async function measure(subjectId, backend, base) {
  const subject = SUBJECTS[subjectId];
  const samples = { plain: [], first: [], second: [] };
  for (let rep = 0; rep < reps; rep++) {
    // Without cachevol: a fresh copy, nothing cached.
    const plainDir = join(base, `${subjectId}-plain-${rep}`, 'project');
    await mkdir(dirname(plainDir), { recursive: true });
    await fixture(subject.fixture, plainDir);
    const [file, args] = await subject.first(plainDir);
    samples.plain.push((await timed(plainDir, file, args, subject.env?.(plainDir))).ms);
    // Through cachevol: a fresh volume, the first run misses, the second hits.
    const dir = join(base, `${subjectId}-${rep}`, 'project');
    await mkdir(dirname(dir), { recursive: true });
    await fixture(subject.fixture, dir);
    const name = `${subjectId}-${rep}`;
    const cachevol = async (which) => {
      const [tool, toolArgs] = await subject[which](dir);
      const args = [
        BIN,
        ...backend.flags,
        'run',
        '--cache',
        subject.path,
        '--name',
        name,
        '--',
        tool,
        ...toolArgs,
      ];
      const result = await timed(dir, process.execPath, args, {
        CACHEVOL_ROOT: backend.root,
        ...subject.env?.(dir),
      });
      const expected = which === 'first' ? 'miss' : 'hit';
      if (!result.out.includes(`${name}: ${expected}`))
        throw new Error(`expected a ${expected}: ${result.out.slice(-800)}`);
      return result.ms;
    };
    samples.first.push(await cachevol('first'));
    await subject.between?.(dir);
    samples.second.push(await cachevol('second'));
  }
  return {
    subject: subjectId,
    backend: backend.name,
    plainMs: round(median(samples.plain)),
    firstMs: round(median(samples.first)),
    secondMs: round(median(samples.second)),
    samples,
  };
}

async function main() {
  const base = await mkdtemp(join(tmpdir(), `cachevol-bench-${process.pid}-tools-`));
  const subjects = opts.only ? opts.only.split(',') : Object.keys(SUBJECTS);
  const backends = [{ name: 'dir', flags: [], root: join(base, 'dir-root') }];
  /** @type {import('./loop-btrfs.mjs').LoopBtrfs | undefined} */
  let btrfs;
  const skipped = [];
  const results = [];
  try {
    if (!opts['no-btrfs']) {
      if (process.getuid?.() !== 0) skipped.push('btrfs: needs root');
      else {
        try {
          await mkdir(join(base, 'loop'));
          btrfs = await createLoopBtrfs(join(base, 'loop'), 4 * 2 ** 30);
          backends.push({
            name: 'btrfs',
            flags: ['--backend', 'btrfs'],
            root: join(btrfs.mountPoint, 'cachevol'),
          });
        } catch (error) {
          skipped.push(`btrfs: ${messageOf(error)}`);
        }
      }
    }
    for (const backend of backends) {
      for (const subject of subjects) {
        const result = await measure(subject, backend, join(base, backend.name));
        results.push(result);
        console.error(
          `${subject} on ${backend.name}: without cachevol ${formatMs(result.plainMs)}, first ${formatMs(result.firstMs)}, second ${formatMs(result.secondMs)}`,
        );
      }
    }
  } finally {
    // A bind mount left by a failed run must go before the tree is removed.
    for (const line of (await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''))
      .split('\n')
      .reverse()) {
      const point = line.split(' ')[4];
      if (point?.startsWith(`${base}/`) && point !== btrfs?.mountPoint)
        await run('umount', ['-l', point], { allowFailure: true });
    }
    await btrfs?.destroy().catch((error) => console.error(`btrfs cleanup: ${messageOf(error)}`));
    await rm(base, { recursive: true, force: true });
  }
  const table = [
    '| tool (whole process, median) | backend | without cachevol | first run (miss) | second run (hit) | second / first |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.subject} | ${r.backend} | ${formatMs(r.plainMs)} | ${formatMs(r.firstMs)} | ${formatMs(r.secondMs)} | ${(r.secondMs / r.firstMs).toFixed(2)} |`,
    ),
  ].join('\n');
  console.log(table);
  for (const reason of skipped) console.log(`\nskipped: ${reason}`);
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(
    opts.out,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, reps, cUnits: Number(opts['c-units']), tsFiles: Number(opts['ts-files']), skipped, results }, null, 2)}\n`,
  );
}

main().catch((error) => {
  console.error(messageOf(error));
  process.exitCode = 1;
});
