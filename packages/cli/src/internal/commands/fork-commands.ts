import { validateId } from '@cachevol/core';
import { readGlobals } from '../globals.js';
import {
  ATTACH_OPTIONS,
  checkDirectories,
  flag,
  list,
  readAttachInputs,
  str,
  volumeName,
} from '../inputs.js';
import { attachVolumes, colorResult, planLinks } from '../job.js';
import { openEngine, requireEngine } from '../open.js';
import { formatMs, Output } from '../output.js';
import type { CommandSpec, OptionSpec } from '../spec.js';
import { UsageError } from '../usage-error.js';

const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print JSON for machines' },
};
const FORK = [{ name: 'FORK', description: 'a fork id printed by `cachevol attach`' }];

/** `cachevol attach`. */
export const attachCommand: CommandSpec = {
  name: 'attach',
  summary: 'attach a fork of a volume, link its paths into the working directory, print the fork id',
  positionals: [{ name: 'NAME', description: 'the volume name, e.g. node-modules' }],
  options: {
    path: {
      type: 'string',
      short: 'p',
      multiple: true,
      value: 'PATH',
      description: 'a cache path to link (repeatable)',
    },
    ...ATTACH_OPTIONS,
    ...JSON_OPTION,
  },
  details:
    'Each path is a sub-directory of the volume linked into place: relative paths into the\n' +
    'working directory, absolute paths under the instance root; by a bind mount as root on Linux,\n' +
    'else a symlink (see --link). End the fork with `cachevol finish`, which undoes the links.',
  example:
    'FORK=$(cachevol attach deps --path node_modules) && npm ci; cachevol finish "$FORK" --exit-code $?',
  async run(args, io) {
    const out = new Output(io);
    const globals = readGlobals(args, io, 'attach');
    const name = volumeName(args.positionals[0] as string);
    const inputs = readAttachInputs(args, io, 'attach');
    checkDirectories(inputs, 'attach');
    const volume = {
      name,
      scope: inputs.scope,
      paths: list(args, 'path'),
      commit: inputs.commit,
      size: inputs.size,
    };
    planLinks([volume], inputs); // every path is checked before anything is attached
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
      const base = fork.baseVersionId ? ` (version ${fork.baseVersionId})` : '';
      out.note(
        `${fork.scope}/${fork.name}: ${colorResult(out, fork.result)}${base}, attached in ${formatMs(attachMs)}`,
      );
      for (const link of links) out.note(`linked ${link.linkPath} -> ${link.target}`);
      out.line(fork.id);
    }
    return 0;
  },
};

/** `cachevol finish`. */
export const finishCommand: CommandSpec = {
  name: 'finish',
  summary: "end a fork by the job's exit code: commit on 0, abandon otherwise (as its commit mode says)",
  positionals: FORK,
  options: {
    'exit-code': { type: 'string', value: 'N', description: "the job's exit code (required)" },
    ...JSON_OPTION,
  },
  example: 'cachevol finish f-lx2k3a9-9f2c4e1a7b3d --exit-code 0',
  async run(args, io) {
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
  },
};

/** `cachevol commit`. */
export const commitCommand: CommandSpec = {
  name: 'commit',
  summary: "commit a fork: it becomes the volume's head (last write wins)",
  positionals: FORK,
  options: JSON_OPTION,
  async run(args, io) {
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
  },
};

/** `cachevol abandon`. */
export const abandonCommand: CommandSpec = {
  name: 'abandon',
  summary: 'abandon a fork: throw its changes away (no version changes)',
  positionals: FORK,
  options: JSON_OPTION,
  async run(args, io) {
    const out = new Output(io);
    const globals = readGlobals(args, io, 'abandon');
    const forkId = validateId(args.positionals[0], 'fork id');
    const engine = await requireEngine(globals);
    await engine.abandon(forkId);
    if (flag(args, 'json')) out.json({ forkId, action: 'abandoned' });
    else out.line(`${forkId}: abandoned`);
    return 0;
  },
};

/** `cachevol heartbeat`. */
export const heartbeatCommand: CommandSpec = {
  name: 'heartbeat',
  summary: "renew a fork's lease so `cachevol gc` does not abandon it",
  positionals: FORK,
  options: JSON_OPTION,
  async run(args, io) {
    const out = new Output(io);
    const globals = readGlobals(args, io, 'heartbeat');
    const forkId = validateId(args.positionals[0], 'fork id');
    const engine = await requireEngine(globals);
    const expiresAt = await engine.heartbeat(forkId);
    if (flag(args, 'json')) out.json({ forkId, expiresAt: new Date(expiresAt).toISOString() });
    else out.line(`${forkId}: lease until ${new Date(expiresAt).toISOString()}`);
    return 0;
  },
};
