#!/usr/bin/env node
/**
 * Where SQLite's time goes when processes share it: runs the store section's shared-SQLite
 * measurement (1 to 8 processes, each cycling attach + commit on its own volume) for the store
 * as it is and for variants that change one thing each (see SQLITE_VARIANTS in
 * store-bench.mjs): no fsync on durable commits, and a fine-grained retry instead of SQLite's
 * busy handler. A diagnostic, not part of `npm run bench`; the store itself is unchanged.
 *
 * Usage: node bench/src/sqlite-variants.mjs [--seconds 10] [--counts 1,2,4,8]
 *          [--variants as-is,no-fsync,poll-1ms,poll-1ms+no-fsync] [--out FILE]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { table } from './report.mjs';
import { SQLITE_VARIANTS } from './store-bench.mjs';
import { sharedSqliteRun, storeConfig } from './store-section.mjs';
import { importStores } from './stores.mjs';
import { formatMs, round } from './util.mjs';

const { values: argv } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    counts: { type: 'string', default: '1,2,4,8' },
    variants: { type: 'string', default: Object.keys(SQLITE_VARIANTS).join(',') },
    out: { type: 'string' },
  },
});
const config = storeConfig(false);
config.processes.durationMs = Number(argv.seconds) * 1000;
const counts = argv.counts.split(',').map(Number);
const variants = argv.variants.split(',');
const log = (...parts) => console.error(`[variants ${new Date().toISOString().slice(11, 19)}]`, ...parts);

const pkgs = await importStores();
if (pkgs.sqlite.reason) throw new Error(pkgs.sqlite.reason);
const work = await mkdtemp(join(tmpdir(), `cachevol-bench-${process.pid}-variants-`));
const ctx = { config, log, signal: { aborted: false }, track: () => undefined };
const rows = [];
const results = [];
try {
  // Interleaved (variant inside count), so a change in the machine's load hits every variant alike.
  for (const processes of counts) {
    for (const variant of variants) {
      const r = await sharedSqliteRun(ctx, pkgs, join(work, `v-${processes}.db`), processes, variant);
      const { samples: _, ...summary } = r;
      results.push({ ...summary, variant, loadavg: loadavg().map(round) });
      log(
        `${variant} × ${processes}: ${r.cyclesPerSecond} cycles/s, p50 ${r.cycle.p50} ms, p95 ${r.cycle.p95} ms`,
      );
      rows.push([
        variant,
        String(processes),
        String(r.cyclesPerSecond),
        formatMs(r.cycle.p50),
        formatMs(r.cycle.p95),
        formatMs(r.cycle.max),
        `${formatMs(r.store.p50)} / ${formatMs(r.store.p95)}`,
        `${Math.min(...r.perProcessCycles)}-${Math.max(...r.perProcessCycles)}`,
      ]);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
rows.sort((a, b) => variants.indexOf(a[0]) - variants.indexOf(b[0]) || Number(a[1]) - Number(b[1]));
console.log(
  table(
    [
      'variant',
      'processes',
      'cycles/s',
      'cycle p50',
      'cycle p95',
      'max',
      'store p50 / p95',
      'cycles per process',
    ],
    rows,
  ),
);
if (argv.out)
  await writeFile(
    argv.out,
    `${JSON.stringify({ at: new Date().toISOString(), config: config.processes, results }, null, 2)}\n`,
  );
