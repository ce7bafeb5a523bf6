import { resolve } from 'node:path';
import { checkoutFromMirror } from '@cachevol/core/git-mirror';
import { readGlobals } from '../globals.js';
import { flag, str } from '../inputs.js';
import { openEngineForJob } from '../open.js';
import { formatMs, Output } from '../output.js';
import type { CommandRun } from '../spec.js';
import { UsageError } from '../usage-error.js';

/** `cachevol git-checkout`. */
export const gitCheckout: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'git-checkout');
  const [url, dir] = args.positionals as [string, string];
  if (dir.startsWith('-'))
    throw new UsageError(`DIR may not start with "-", got ${JSON.stringify(dir)}`, 'git-checkout');
  const json = flag(args, 'json');
  const engine = await openEngineForJob(globals, out);
  const done = await checkoutFromMirror(engine, {
    url,
    directory: resolve(io.cwd, dir),
    commit: str(args, 'commit'),
    ref: str(args, 'ref'),
    scope: str(args, 'scope'),
    name: str(args, 'name'),
    size: str(args, 'size'),
    job: str(args, 'job') ?? `cli-${process.pid}`,
    onProgress: (line) => out.note(line),
    onWarning: (line) => out.warn(line),
  });
  if (json) out.json(done);
  else
    out.line(
      `${done.commit} checked out into ${done.directory} by ${done.method} (mirror ${done.mirror.result ?? 'unavailable'}, ${done.mirror.action}, ${done.mirror.outcome}) in ${formatMs(done.timings.totalMs)}`,
    );
  return 0;
};
