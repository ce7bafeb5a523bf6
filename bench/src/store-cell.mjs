/**
 * Child-process entry of the store benchmarks (a fresh, small process per cell, as cell.mjs
 * explains for the backend cells; here it also keeps one cell's 50,000 volumes in the memory
 * store from weighing on the next cell).
 *
 * Usage (from store-section.mjs):
 * - `node store-cell.mjs <job.json>`: the scaling cells of one store kind (every size); writes
 *   the results to `job.out`.
 * - `node store-cell.mjs --worker` with an IPC channel: one process of the shared-SQLite run;
 *   gets its job as the first message, answers `ready`, waits for `go`, answers `done`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { processWorker, scalingCells } from './store-bench.mjs';
import { messageOf } from './util.mjs';

for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const log = (message) => console.error(`[store ${new Date().toISOString().slice(11, 19)}]   ${message}`);

if (process.argv[2] === '--worker') {
  const send = (message) => process.send?.(message);
  /** @type {(value: { startAt: number, endAt: number }) => void} */
  let release = () => undefined;
  const go = new Promise((resolve) => {
    release = resolve;
  });
  process.on('message', (message) => {
    if (message?.type === 'job') {
      processWorker(message.job, send, () => go)
        .catch((error) => send({ type: 'failed', reason: messageOf(error) }))
        .finally(() => process.disconnect?.());
    } else if (message?.type === 'go') release(message);
  });
} else {
  const job = JSON.parse(await readFile(process.argv[2], 'utf8'));
  let result;
  try {
    result = await scalingCells(job, log);
  } catch (error) {
    result = job.sizes.map((volumes) => ({
      kind: job.kind,
      volumes,
      status: 'failed',
      reason: messageOf(error),
    }));
    log(`${job.kind} failed: ${error instanceof Error ? error.stack : error}`);
  }
  await writeFile(job.out, JSON.stringify(result));
}
