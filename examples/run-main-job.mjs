// The main job, end to end: runs examples/pipeline.yml twice with the built `cachevol` CLI,
// against a fresh cache root and a fresh checkout each time, and shows that the first run is a
// miss (it builds the files) and the second a hit (it reuses them), with timings.
//
// Run it from the repository root: `npm run build && node examples/run-main-job.mjs`
// (add `--keep` to keep the temporary directory and look at it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repo, 'packages/cli/dist/cli.cjs');
const pipeline = join(repo, 'examples/pipeline.yml');
if (!existsSync(cli)) {
  console.error(`${cli} is missing: run \`npm run build\` first.`);
  process.exit(1);
}

const keep = process.argv.includes('--keep');
const base = mkdtempSync(join(tmpdir(), 'cachevol-example-'));
const root = join(base, 'cachevol-root');
const env = { ...process.env, CACHEVOL_ROOT: root };

// Runs the CLI with an argument array (no shell) and the terminal as its stdio.
function cachevol(args, { capture = false } = {}) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    env,
    encoding: 'utf8',
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
  });
  if (result.error) throw result.error;
  return result;
}

// Removes the temporary directory (unless --keep) and exits.
function finish(code) {
  if (keep) console.log(`\nkept ${base}`);
  else rmSync(base, { recursive: true, force: true });
  process.exit(code);
}

const runs = [];
for (const n of [1, 2]) {
  const checkout = join(base, `checkout-${n}`); // a fresh working directory, as a CI job gets
  mkdirSync(checkout);
  console.log(
    `\n=== run ${n}: cachevol pipeline run examples/pipeline.yml (working directory ${checkout})\n`,
  );
  const started = Date.now();
  const run = cachevol(['pipeline', 'run', pipeline, '--slug', 'cachevol-example', '--workdir', checkout]);
  runs.push({ n, ms: Date.now() - started, status: run.status });
  if (run.status !== 0) {
    console.error(`run ${n} failed with exit code ${run.status}`);
    finish(1);
  }
}

const stats = JSON.parse(cachevol(['stats', '--json'], { capture: true }).stdout).volumes;
const volume = stats.find((s) => s.name === 'cachevol-example');
console.log('\n=== outcome');
for (const run of runs) console.log(`run ${run.n}: ${run.ms} ms in total`);
console.log(
  `volume ${volume.scope}/${volume.name}: ${volume.counts.miss} miss, ${volume.counts.hit} hit, ${volume.counts.stale} stale ` +
    `(each run attaches it once per step), ${volume.versions} versions kept`,
);
console.log(
  'run 1 started empty and built the files; run 2 got them from the volume (same "built at" time).',
);
cachevol(['ls']);

// Run 1: step 1 misses, step 2 hits step 1's commit; run 2: both steps hit.
finish(volume.counts.miss === 1 && volume.counts.hit === 3 ? 0 : 1);
