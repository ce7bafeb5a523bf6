/**
 * Child-process entry: measures one subject on one tree and writes the result as JSON.
 *
 * Each cell runs in a fresh, small Node process because spawning a command costs time in
 * proportion to the parent's memory (fork copies its page tables): measured here, `true` takes
 * ~3 ms from a 45 MiB process and ~60 ms from a 1.5 GiB one. Running cells in the orchestrator,
 * whose memory grows with the trees it generates, would make every command slower on larger
 * trees and fake a size dependence.
 *
 * Usage: node cell.mjs <job.json> (written by run.mjs).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { buildSubjects, importPackages } from './catalog.mjs';
import { installCommandTracer } from './instrument.mjs';
import { measureCell } from './measure.mjs';
import { planTree } from './tree.mjs';
import { messageOf } from './util.mjs';

for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const log = (message) => console.error(`[cell ${new Date().toISOString().slice(11, 19)}]   ${message}`);

/**
 * @typedef {object} CellJob
 * @property {import('./catalog.mjs').Environment} env - the environment
 * @property {string} subject - subject id
 * @property {{ id: string, label: string, group: 'node-modules' | 'sweep', bytes: number, files: number, dir: string, archive: string }} tree -
 *   the tree (its plan is recomputed from id, bytes and files when needed)
 * @property {import('./measure.mjs').IterationPolicy} policy - iterations
 * @property {string} out - where to write the result
 */

const job = /** @type {CellJob} */ (JSON.parse(await readFile(process.argv[2], 'utf8')));
const signal = { aborted: false };
for (const name of ['SIGINT', 'SIGTERM']) {
  process.on(name, () => {
    signal.aborted = true;
  });
}
installCommandTracer();
let result;
try {
  const subject = buildSubjects(job.env, await importPackages()).find((s) => s.id === job.subject);
  if (!subject) throw new Error(`unknown subject ${job.subject}`);
  /** @type {import('./tree.mjs').TreePlan | undefined} */
  let plan;
  const tree = {
    ...job.tree,
    get plan() {
      plan ??= planTree({ name: job.tree.id, bytes: job.tree.bytes, files: job.tree.files });
      return plan;
    },
  };
  result = await measureCell(subject, tree, job.policy, signal, log);
} catch (error) {
  result = { subject: job.subject, tree: job.tree.id, status: 'failed', reason: messageOf(error) };
}
await writeFile(job.out, JSON.stringify(result));
