import { validateId } from '@cachevol/core';
import { expandName } from '../checksum.js';
import { readGlobals } from '../globals.js';
import { checkDirectories, flag, list, readAttachInputs, readFallbacks, str, volumeName } from '../inputs.js';
import { attachLine, attachVolumes, planLinks } from '../job.js';
import { openEngine, requireEngine } from '../open.js';
import { formatMs, Output } from '../output.js';
import type { CommandRun } from '../spec.js';
import { UsageError } from '../usage-error.js';

/** `cachevol attach`. */
export const attach: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'attach');
  const inputs = readAttachInputs(args, io, 'attach');
  const name = volumeName(expandName(args.positionals[0] as string, inputs.workdir, inputs.os));
  checkDirectories(inputs, 'attach');
  const volume = {
    name,
    scope: inputs.scope,
    paths: list(args, 'path'),
    commit: inputs.commit,
    size: inputs.size,
    fallbacks: readFallbacks(args, inputs.scope, (n) => expandName(n, inputs.workdir, inputs.os), 'attach'),
  };
  planLinks([volume], inputs, { root: globals.root }); // every path is checked before anything is attached
  const engine = await openEngine(globals, { create: true });
  const [attached] = await attachVolumes(engine, [volume], inputs, out);
  const { fork, links, attachMs } = attached as NonNullable<typeof attached>;
  if (flag(args, 'json')) {
    out.json({
      forkId: fork.id,
      scope: fork.scope,
      name: fork.name,
      result: fork.result,
      baseVersionId: fork.baseVersionId,
      source: fork.source
        ? {
            scope: fork.source.scope,
            name: fork.source.name,
            versionId: fork.source.versionId,
            result: fork.source.result,
          }
        : null,
      mountPath: fork.mountPath,
      capacityBytes: fork.capacityBytes,
      commitMode: fork.commitMode,
      attachMs: Math.round(attachMs),
      links: links.map((l) => ({
        linkPath: l.linkPath,
        target: l.target,
        method: l.method,
        action: l.action,
        movedTo: l.movedTo ?? null,
      })),
    });
  } else {
    out.note(attachLine(out, fork, attachMs));
    for (const link of links) out.note(`linked ${link.linkPath} -> ${link.target}`);
    out.line(fork.id);
  }
  return 0;
};

/** `cachevol finish`. */
export const finish: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'finish');
  const forkId = validateId(args.positionals[0], 'fork id');
  const raw = str(args, 'exit-code');
  if (raw === undefined) throw new UsageError('missing --exit-code N', 'finish');
  if (!/^-?[0-9]{1,9}$/.test(raw))
    throw new UsageError(`--exit-code: expected an integer, got ${JSON.stringify(raw)}`, 'finish');
  const engine = await requireEngine(globals);
  const started = performance.now();
  const outcome = await engine.finish(forkId, Number(raw));
  const ms = performance.now() - started;
  if (flag(args, 'json'))
    out.json({
      forkId,
      action: outcome.action,
      versionId: outcome.version?.id ?? null,
      ms: Math.round(ms),
    });
  else
    out.line(
      `${forkId}: ${outcome.action}${outcome.version ? ` as ${outcome.version.id}` : ''} in ${formatMs(ms)}`,
    );
  return 0;
};

/** `cachevol commit`. */
export const commit: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'commit');
  const forkId = validateId(args.positionals[0], 'fork id');
  const engine = await requireEngine(globals);
  const started = performance.now();
  const version = await engine.commit(forkId);
  const ms = performance.now() - started;
  if (flag(args, 'json'))
    out.json({
      forkId,
      versionId: version.id,
      seq: version.seq,
      usedBytes: version.usedBytes,
      ms: Math.round(ms),
    });
  else out.line(version.id);
  return 0;
};

/** `cachevol abandon`. */
export const abandon: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'abandon');
  const forkId = validateId(args.positionals[0], 'fork id');
  const engine = await requireEngine(globals);
  await engine.abandon(forkId);
  if (flag(args, 'json')) out.json({ forkId, action: 'abandoned' });
  else out.line(`${forkId}: abandoned`);
  return 0;
};

/** `cachevol heartbeat`. */
export const heartbeat: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'heartbeat');
  const forkId = validateId(args.positionals[0], 'fork id');
  const engine = await requireEngine(globals);
  const expiresAt = await engine.heartbeat(forkId);
  if (flag(args, 'json')) out.json({ forkId, expiresAt: new Date(expiresAt).toISOString() });
  else out.line(`${forkId}: lease until ${new Date(expiresAt).toISOString()}`);
  return 0;
};
