/**
 * Runs one subject on one tree and summarises the samples (this runs in a child process, see
 * cell.mjs).
 */
import { messageOf, now, percentile, round, summarize } from './util.mjs';

/**
 * @typedef {object} IterationPolicy
 * @property {number} min - at least this many timed iterations
 * @property {number} max - at most this many
 * @property {number} budgetMs - stop after `min` once the timed iterations have run this long
 */

/**
 * Opens the cell (populate), runs one untimed warm-up iteration when the subject asks for it,
 * then timed iterations until `max`, or until at least `min` ran and the time budget is
 * spent; then closes the cell. Failures become a `failed` result with the reason.
 *
 * @param {import('./subjects.mjs').Subject} subject - what to measure
 * @param {import('./subjects.mjs').TreeInfo} tree - on which tree
 * @param {IterationPolicy} policy - how long
 * @param {{ aborted: boolean }} signal - set when the run is being stopped
 * @param {(message: string) => void} log - progress messages
 */
export async function measureCell(subject, tree, policy, signal, log) {
  const base = { subject: subject.id, tree: tree.id };
  /** @type {Record<string, import('./subjects.mjs').StepRecord[]>} */
  const records = Object.fromEntries(subject.ops.map((op) => [op, []]));
  let cell;
  try {
    cell = await subject.open(tree);
    if (subject.warmup) await cell.iterate(0);
    // The budget covers the timed iterations only, not populating or the warm-up.
    const started = now();
    for (let i = 1; i <= policy.max && !signal.aborted; i++) {
      if (i > policy.min && now() - started > policy.budgetMs) break;
      const round = await cell.iterate(i);
      for (const op of subject.ops) records[op].push(round[op]);
    }
  } catch (error) {
    log(`${subject.id} on ${tree.id} failed: ${messageOf(error)}`);
    await cell?.close().catch(() => undefined);
    return { ...base, status: 'failed', reason: messageOf(error) };
  }
  await cell.close().catch((error) => log(`${subject.id} on ${tree.id}: close failed: ${messageOf(error)}`));
  if (signal.aborted) return { ...base, status: 'failed', reason: 'interrupted' };
  const ops = {};
  const breakdown = {};
  for (const op of subject.ops) {
    const samples = records[op].map((r) => r.ms);
    ops[op] = { ...summarize(samples), samplesMs: samples.map(round) };
    // Operations that move bytes (send-delta.mjs) report how many, and what was sent.
    const bytes = records[op].map((r) => r.bytes).filter((b) => typeof b === 'number');
    if (bytes.length > 0) {
      const sorted = [...bytes].sort((a, b) => a - b);
      ops[op].bytes = { p50: percentile(sorted, 0.5), min: sorted[0], max: sorted.at(-1) };
    }
    if (records[op][0]?.format !== undefined)
      Object.assign(ops[op], { format: records[op][0].format, baseId: records[op][0].baseId ?? null });
    if (records[op][0]?.parts) breakdown[op] = breakdownOf(records[op], ops[op].mean);
  }
  return {
    ...base,
    status: 'ok',
    populateMs: round(cell.populateMs),
    ...(cell.info ? { info: cell.info } : {}),
    ops,
    ...(Object.keys(breakdown).length > 0 ? { breakdown } : {}),
  };
}

/**
 * Mean time per operation in store calls, backend calls and the rest (engine, linking), and
 * the commands the backend spawned (count and time per operation, slowest first).
 *
 * @param {import('./subjects.mjs').StepRecord[]} records - one per iteration
 * @param {number} mean - mean duration of the operation
 */
export function breakdownOf(records, mean) {
  const n = records.length;
  const parts = {};
  for (const r of records)
    for (const [k, v] of Object.entries(r.parts ?? {})) parts[k] = (parts[k] ?? 0) + v / n;
  const counted = Object.values(parts).reduce((a, b) => a + b, 0);
  const commands = new Map();
  for (const r of records) {
    for (const c of r.commands ?? []) {
      const words = [];
      for (const arg of c.args) {
        if (words.length >= 4 || /[/@=]|^\d+$/.test(arg)) break;
        words.push(arg);
      }
      const key = [c.command, ...words].join(' ');
      const entry = commands.get(key) ?? { command: key, count: 0, ms: 0 };
      entry.count++;
      entry.ms += Number.isFinite(c.ms) ? c.ms : 0;
      commands.set(key, entry);
    }
  }
  const commandMs = [...commands.values()].reduce((a, c) => a + c.ms / n, 0);
  return {
    parts: Object.fromEntries(
      [
        ...Object.entries(parts).map(([k, v]) => [k, round(v)]),
        ['engine+other', round(mean - counted)],
      ].filter(([, v]) => v !== 0),
    ),
    commandsTotalMs: round(commandMs),
    commandsPerOp: round([...commands.values()].reduce((a, c) => a + c.count / n, 0)),
    commands: [...commands.values()]
      .map((c) => ({ command: c.command, perOp: round(c.count / n), msPerOp: round(c.ms / n) }))
      .sort((a, b) => b.msPerOp - a.msPerOp),
  };
}
