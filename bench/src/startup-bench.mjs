/**
 * How long the `cachevol` command takes from exec to exit, side by side with `node -e 0` in the
 * same run: every round runs each subject once, in an order that rotates from round to round,
 * so a change in the machine's load reaches every subject alike. Runs on its own
 * (`node bench/src/startup-bench.mjs`) or as part of `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderStartup } from './report.mjs';
import { which } from './tools.mjs';
import { now, round, run, summarize } from './util.mjs';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built `cachevol` executable. */
export const DEFAULT_CLI = resolve(BENCH_DIR, '..', 'packages', 'cli', 'dist', 'cli.cjs');

/** What the start-up has to stay within, as a multiple of `node -e 0`'s median. */
export const STARTUP_AIMS = [
  { subject: 'help', max: 1.5 },
  { subject: 'run-dir', max: 2.5 },
];

/**
 * @typedef {object} StartupSubject
 * @property {string} id - short id
 * @property {string} label - the command line, for the tables
 * @property {string[]} args - arguments after `node`
 * @property {string} cwd - where it runs
 * @property {Record<string, string>} env - environment it runs with (beside the process's)
 */

/**
 * The commands measured. `run-dir` attaches, links, runs `true` and commits on the dir backend
 * under a root of its own, linking into the scratch directory: the warm-up's first run misses,
 * every later one hits. The commands keep their compile cache in the scratch directory (filled
 * by the warm-up, as on a runner that has run cachevol before); `run-dir-cold` runs without
 * one (`CACHEVOL_COMPILE_CACHE=off`), as on a fresh machine or container every time.
 *
 * @param {string} cli - the `cachevol` script
 * @param {string} work - a scratch directory
 * @returns {StartupSubject[]}
 */
function startupSubjects(cli, work) {
  const root = join(work, 'root');
  const env = { CACHEVOL_COMPILE_CACHE: join(work, 'compile-cache') };
  const runArgs = [
    cli,
    'run',
    '--root',
    root,
    '--workdir',
    work,
    '--name',
    'deps',
    '--cache',
    'deps',
    '--',
    'true',
  ];
  return [
    { id: 'node', label: 'node -e 0', args: ['-e', '0'], cwd: work, env },
    { id: 'version', label: 'cachevol --version', args: [cli, '--version'], cwd: work, env },
    { id: 'help', label: 'cachevol --help', args: [cli, '--help'], cwd: work, env },
    {
      id: 'run-dir',
      label: 'cachevol run --cache deps -- true (dir backend)',
      args: runArgs,
      cwd: work,
      env,
    },
    {
      id: 'run-dir-cold',
      label: 'the same run without a compile cache',
      args: runArgs,
      cwd: work,
      env: { CACHEVOL_COMPILE_CACHE: 'off' },
    },
  ];
}

/**
 * CPU time (user + system, ms) of the children this process has waited for, from
 * `/proc/self/stat` (`cutime` + `cstime`, in clock ticks of 10 ms); `null` off Linux.
 */
async function childCpuMs() {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => null);
  if (!stat) return null;
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/**
 * Runs one subject once and times it from spawn to exit.
 *
 * @param {StartupSubject} subject - what to run
 * @returns {Promise<{ ms: number, cpuMs: number | null }>}
 */
async function timeOnce(subject) {
  const cpuBefore = await childCpuMs();
  const started = now();
  const { code, stderr } = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, subject.args, {
      cwd: subject.cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...subject.env },
    });
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      text += chunk;
    });
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => resolve({ code: exitCode ?? signal, stderr: text }));
  });
  const ms = now() - started;
  const cpuAfter = await childCpuMs();
  if (code !== 0) throw new Error(`${subject.label} exited with ${code}: ${stderr.trim().slice(0, 300)}`);
  return { ms, cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore };
}

/**
 * The same subjects measured by hyperfine (`-N`: no shell), when it is installed.
 *
 * @param {StartupSubject[]} subjects - what to run
 * @param {{ runs: number, warmup: number, work: string }} options - counts and scratch directory
 */
async function hyperfineOf(subjects, { runs, warmup, work }) {
  const path = which('hyperfine');
  if (!path)
    return { status: 'unavailable', reason: 'hyperfine not found (install: apt-get install -y hyperfine)' };
  const out = join(work, 'hyperfine.json');
  const quote = (arg) => (/^[\w./=:-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);
  // hyperfine gives every command one environment: a subject's own goes through env(1).
  const commands = subjects.map((s) =>
    [
      ...(s.env.CACHEVOL_COMPILE_CACHE === 'off' ? ['env', 'CACHEVOL_COMPILE_CACHE=off'] : []),
      process.execPath,
      ...s.args,
    ]
      .map(quote)
      .join(' '),
  );
  await run(
    path,
    [
      '-N',
      '--style',
      'none',
      '--warmup',
      String(warmup),
      '--runs',
      String(runs),
      '--export-json',
      out,
      ...commands,
    ],
    {
      env: { NO_COLOR: '1', CACHEVOL_COMPILE_CACHE: join(work, 'compile-cache') },
    },
  );
  const { results } = JSON.parse(await readFile(out, 'utf8'));
  const nodeMedian = results[0].median;
  return {
    status: 'ok',
    subjects: subjects.map((s, i) => ({
      id: s.id,
      p50: round(results[i].median * 1000),
      mean: round(results[i].mean * 1000),
      userMs: round(results[i].user * 1000),
      systemMs: round(results[i].system * 1000),
      ratio: round(results[i].median / nodeMedian),
    })),
  };
}

/**
 * @typedef {object} StartupOptions
 * @property {string} [cli] - the `cachevol` script (default: the built one)
 * @property {number} [runs] - timed rounds (default 20; at least 10)
 * @property {number} [warmup] - untimed rounds first (default 3)
 * @property {boolean} [hyperfine] - also measure with hyperfine when it is installed (default true)
 * @property {string} [tmp] - where the scratch directory goes (default: the OS temp directory)
 */

/**
 * Measures the start-up of `cachevol` against `node -e 0`: medians, CPU time and the ratios
 * the aims are judged on.
 *
 * @param {StartupOptions} [options] - what and how long
 */
export async function benchStartup(options = {}) {
  const cli = resolve(options.cli ?? DEFAULT_CLI);
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the CLI first (npm run build)`);
  const runs = Math.max(10, options.runs ?? 20);
  const warmup = options.warmup ?? 3;
  const work = await mkdtemp(join(options.tmp ?? tmpdir(), 'cachevol-startup-'));
  try {
    const subjects = startupSubjects(cli, work);
    await mkdir(join(work, 'deps'));
    const samples = Object.fromEntries(subjects.map((s) => [s.id, { ms: [], cpuMs: [] }]));
    const loadavgStart = loadavg().map(round);
    for (let roundNo = 0; roundNo < warmup + runs; roundNo++) {
      for (let i = 0; i < subjects.length; i++) {
        const subject = subjects[(roundNo + i) % subjects.length];
        const { ms, cpuMs } = await timeOnce(subject);
        if (roundNo < warmup) continue;
        samples[subject.id].ms.push(ms);
        if (cpuMs !== null) samples[subject.id].cpuMs.push(cpuMs);
      }
    }
    const loadavgEnd = loadavg().map(round);
    const summaries = subjects.map((s) => {
      const cpu = samples[s.id].cpuMs;
      return {
        id: s.id,
        label: s.label,
        ...summarize(samples[s.id].ms),
        cpuMs: cpu.length > 0 ? round(cpu.reduce((a, b) => a + b, 0) / cpu.length) : null,
        samplesMs: samples[s.id].ms.map(round),
      };
    });
    const nodeP50 = summaries[0].p50;
    for (const s of summaries) s.ratio = round(s.p50 / nodeP50);
    const aims = STARTUP_AIMS.map(({ subject, max }) => {
      const s = summaries.find((x) => x.id === subject);
      return { subject, label: s.label, max, p50: s.p50, nodeP50, ratio: s.ratio, met: s.ratio <= max };
    });
    return {
      cli,
      runs,
      warmup,
      machine: { cpus: cpus().length, node: process.version, loadavgStart, loadavgEnd },
      subjects: summaries,
      aims,
      hyperfine:
        options.hyperfine === false
          ? { status: 'skipped', reason: 'not asked for' }
          : await hyperfineOf(subjects, { runs, warmup, work }),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      cli: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      'no-hyperfine': { type: 'boolean', default: false },
      tmp: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const result = await benchStartup({
    ...(values.cli ? { cli: values.cli } : {}),
    ...(values.runs ? { runs: Number(values.runs) } : {}),
    ...(values.warmup ? { warmup: Number(values.warmup) } : {}),
    ...(values.tmp ? { tmp: values.tmp } : {}),
    hyperfine: !values['no-hyperfine'],
  });
  const outFile = resolve(values.out ?? join(BENCH_DIR, 'results', 'startup.json'));
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(`${outFile}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  await rename(`${outFile}.tmp`, outFile);
  console.log(renderStartup(result));
  console.error(`wrote ${outFile}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main();
  } catch (error) {
    console.error(
      `startup bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  }
}
