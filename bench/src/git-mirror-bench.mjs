/**
 * Git mirror checkouts through `cachevol git-checkout` against a plain `git clone`, on a
 * repository generated here (20,000 files, 200 commits) and served by `git daemon` on
 * 127.0.0.1: the first checkout (a miss: `git clone --mirror`, then the checkout from it), the
 * second (a hit that has the commit: no fetch), a hit after 5 new commits (a fetch of only
 * those), and a hit by branch (a fetch that brings nothing). Every round runs each subject once
 * on the dir backend, each miss on a root of its own, the plain clone at a place that rotates. Runs on its own:
 * `node bench/src/git-mirror-bench.mjs [--rounds 5] [--files 20000] [--commits 200] [--work DIR]`.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addCommits, git, makeRepository, startDaemon } from '../../test-support/git-fixture.mjs';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = resolve(BENCH_DIR, '..', 'packages', 'cli', 'dist', 'cli.cjs');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    files: { type: 'string', default: '20000' },
    commits: { type: 'string', default: '200' },
    out: { type: 'string', default: join(BENCH_DIR, 'results', 'git-mirror') },
    // Where the server, the roots and the checkouts go (default: the system's temporary directory).
    work: { type: 'string', default: tmpdir() },
  },
});
const rounds = Number(values.rounds);
const files = Number(values.files);
const commits = Number(values.commits);

/** Runs a program (no shell), throws when it fails; returns its wall time in ms and its stdout. */
function timed(program, args) {
  const start = performance.now();
  const result = spawnSync(program, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round1 = (x) => Math.round(x * 10) / 10;

const work = await mkdtemp(join(values.work, 'gitmirror-bench-'));
const server = join(work, 'server', 'acme', 'widgets.git');
let daemon;
try {
  const start = performance.now();
  const ids = await makeRepository(server, { commits, files, changes: 100 });
  const made = performance.now() - start;
  const packBytes =
    Number(/size-pack: (\d+)/.exec(git(['-C', server, 'count-objects', '-v']))?.[1] ?? 0) * 1024;
  console.error(
    `repository: ${files} files, ${ids.length} commits, pack ${(packBytes / 2 ** 20).toFixed(1)} MiB, made in ${(made / 1000).toFixed(1)} s`,
  );
  daemon = await startDaemon(join(work, 'server'));
  const url = daemon.url('acme/widgets.git');
  let n = 0;
  const target = () => join(work, `co-${++n}`);
  const checkout = (root, extra) => {
    const run = timed(process.execPath, [
      CLI,
      'git-checkout',
      url,
      target(),
      '--root',
      root,
      '--json',
      ...extra,
    ]);
    return { ms: run.ms, result: JSON.parse(run.stdout) };
  };
  /** @type {Record<string, { label: string, samples: number[], phases: object[] }>} */
  const subjects = {
    plain: { label: '`git clone` (plain, with checkout)', samples: [], phases: [] },
    miss: {
      label: 'cachevol git-checkout, first (miss: clone --mirror + checkout)',
      samples: [],
      phases: [],
    },
    hit: { label: 'cachevol git-checkout, second (hit, commit present: no fetch)', samples: [], phases: [] },
    fetch: {
      label: 'cachevol git-checkout, hit after 5 new commits (fetch + commit)',
      samples: [],
      phases: [],
    },
    ref: { label: 'cachevol git-checkout --ref main, hit (fetch brings nothing)', samples: [], phases: [] },
  };
  const record = (id, { ms, result }) => {
    subjects[id].samples.push(ms);
    if (result)
      subjects[id].phases.push({
        ...result.timings,
        action: result.mirror.action,
        outcome: result.mirror.outcome,
      });
  };
  for (let r = 0; r < rounds; r++) {
    const head = git(['-C', server, 'rev-parse', 'main']);
    const root = join(work, `root-${r}`);
    // The plain clone's place in the round rotates, so that no subject always follows the same
    // work; `sync` before each flushes what the previous one wrote, so none pays for another.
    const steps = [
      () => record('miss', checkout(root, ['--commit', head])),
      () => record('hit', checkout(root, ['--commit', head])),
      async () => {
        const added = await addCommits(server, { commits: 5, files, changes: 100, seed: `round-${r}` });
        spawnSync('sync');
        record('fetch', checkout(root, ['--commit', added.at(-1), '--ref', 'main']));
      },
      () => record('ref', checkout(root, ['--ref', 'main'])),
    ];
    steps.splice(r % (steps.length + 1), 0, () =>
      record('plain', { ms: timed('git', ['clone', '--quiet', url, target()]).ms }),
    );
    for (const step of steps) {
      spawnSync('sync');
      await step();
    }
    for (let i = 0; i < n; i++) await rm(join(work, `co-${i + 1}`), { recursive: true, force: true });
    console.error(
      `round ${r + 1}/${rounds}: ${Object.entries(subjects)
        .map(([id, s]) => `${id} ${Math.round(s.samples.at(-1))} ms`)
        .join(', ')}`,
    );
  }
  const summary = Object.entries(subjects).map(([id, s]) => ({
    id,
    label: s.label,
    p50Ms: round1(median(s.samples)),
    minMs: round1(Math.min(...s.samples)),
    maxMs: round1(Math.max(...s.samples)),
    samplesMs: s.samples.map(round1),
    phasesP50: s.phases.length
      ? Object.fromEntries(
          ['attachMs', 'mirrorMs', 'checkoutMs', 'commitMs', 'totalMs'].map((k) => [
            k,
            median(s.phases.map((p) => p[k])),
          ]),
        )
      : null,
    actions: [...new Set(s.phases.map((p) => `${p.action}/${p.outcome}`))],
  }));
  const by = Object.fromEntries(summary.map((s) => [s.id, s]));
  const report = {
    date: new Date().toISOString(),
    work: values.work,
    machine: { cpus: cpus().length, node: process.version, git: git(['--version']), loadavgEnd: loadavg() },
    repository: { files, commits: ids.length, packBytes, fileBytes: 2048, changesPerCommit: 100 },
    backend: 'dir',
    rounds,
    subjects: summary,
    ratios: {
      secondVsFirst: round1(by.miss.p50Ms / by.hit.p50Ms),
      secondVsPlain: round1(by.plain.p50Ms / by.hit.p50Ms),
      fetchVsPlain: round1(by.plain.p50Ms / by.fetch.p50Ms),
    },
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(`${values.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const rows = summary.map(
    (s) =>
      `| ${s.label} | ${(s.p50Ms / 1000).toFixed(2)} s | ${(s.minMs / 1000).toFixed(2)}–${(s.maxMs / 1000).toFixed(2)} s | ${s.phasesP50 ? `${s.phasesP50.attachMs} / ${s.phasesP50.mirrorMs} / ${s.phasesP50.checkoutMs} / ${s.phasesP50.commitMs}` : ''} |`,
  );
  await writeFile(
    `${values.out}.md`,
    [
      `Git mirror checkouts, ${report.date.slice(0, 10)}: ${files} files, ${ids.length} commits, ${(packBytes / 2 ** 20).toFixed(1)} MiB pack, git daemon on 127.0.0.1, dir backend, under ${values.work}, ${rounds} rounds (p50).`,
      '',
      '| subject | p50 | range | attach / mirror / checkout / commit (ms, p50) |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
      `Second checkout: ${report.ratios.secondVsFirst}× faster than the first, ${report.ratios.secondVsPlain}× faster than a plain clone; after 5 new commits ${report.ratios.fetchVsPlain}× faster than a plain clone.`,
      '',
    ].join('\n'),
  );
  console.log(JSON.stringify(report.ratios));
} finally {
  await daemon?.stop();
  await rm(work, { recursive: true, force: true });
}
