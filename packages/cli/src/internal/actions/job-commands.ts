import { type CacheVolumes, type ForkRecord, validateLabel } from '@cachevol/core';
import { readGlobals } from '../globals.js';
import { flag, str } from '../inputs.js';
import { openEngine } from '../open.js';
import { formatError, formatMs, Output } from '../output.js';
import type { CommandRun, ParsedArgs } from '../spec.js';
import { UsageError } from '../usage-error.js';

/** What happened to one fork of the job. */
interface Ended {
  forkId: string;
  scope: string;
  name: string;
  action: 'committed' | 'abandoned' | 'skipped' | 'failed';
  versionId: string | null;
}

/** The job's forks that are still attached (a fork being committed is left to finish). */
async function attachedForks(engine: CacheVolumes, job: string): Promise<ForkRecord[]> {
  return (await engine.forks()).filter((fork) => fork.job === job && fork.state === 'attached');
}

/**
 * Ends every attached fork of one job, one at a time; a fork that cannot be ended is a warning
 * and the others are still ended. Without a root (nothing was ever attached) there is nothing
 * to end.
 */
async function endJob(
  args: ParsedArgs,
  out: Output,
  command: string,
  end: (engine: CacheVolumes, fork: ForkRecord) => Promise<Pick<Ended, 'action' | 'versionId'>>,
): Promise<number> {
  const globals = readGlobals(args, out.io, command);
  const job = validateLabel(args.positionals[0], 'job');
  const started = performance.now();
  const engine = await openEngine(globals, { create: false });
  const forks = engine ? await attachedForks(engine, job) : [];
  const ended: Ended[] = [];
  for (const fork of forks) {
    const base = { forkId: fork.id, scope: fork.scope, name: fork.name };
    try {
      ended.push({ ...base, ...(await end(engine as CacheVolumes, fork)) });
    } catch (error) {
      out.warn(`${fork.scope}/${fork.name}: ${fork.id} could not be ended: ${formatError(error).line}`);
      ended.push({ ...base, action: 'failed', versionId: null });
    }
  }
  const ms = Math.round(performance.now() - started);
  if (flag(args, 'json')) out.json({ job, forks: ended, ms });
  else if (ended.length === 0) out.line(`${job}: no attached fork`);
  else
    for (const e of ended)
      out.line(
        `${e.scope}/${e.name}: ${e.forkId} ${e.action}${e.versionId ? ` as ${e.versionId}` : ''} in ${formatMs(ms)}`,
      );
  return ended.some((e) => e.action === 'failed') ? 1 : 0;
}

/** `cachevol finish-job`. */
export const finishJob: CommandRun = async (args, io) => {
  const raw = str(args, 'exit-code');
  if (raw === undefined) throw new UsageError('missing --exit-code N', 'finish-job');
  if (!/^-?[0-9]{1,9}$/.test(raw))
    throw new UsageError(`--exit-code: expected an integer, got ${JSON.stringify(raw)}`, 'finish-job');
  return endJob(args, new Output(io), 'finish-job', async (engine, fork) => {
    const outcome = await engine.finish(fork.id, Number(raw));
    return { action: outcome.action, versionId: outcome.version?.id ?? null };
  });
};

/** `cachevol abandon-job`. */
export const abandonJob: CommandRun = async (args, io) =>
  endJob(args, new Output(io), 'abandon-job', async (engine, fork) => {
    await engine.abandon(fork.id);
    return { action: 'abandoned', versionId: null };
  });
