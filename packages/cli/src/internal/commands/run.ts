import { basename } from 'node:path';
import { DEFAULT_LEASE_MS, validateName } from '@cachevol/core';
import { readGlobals } from '../globals.js';
import { ATTACH_OPTIONS, checkDirectories, list, readAttachInputs, str } from '../inputs.js';
import { planLinks, runJob, runUncached } from '../job.js';
import { openEngineForJob } from '../open.js';
import { Output } from '../output.js';
import type { CommandSpec } from '../spec.js';
import { UsageError } from '../usage-error.js';

function defaultName(workdir: string): string {
  const name = basename(workdir);
  if (isCacheVolumeName(name)) return name;
  throw new UsageError(
    `the working directory's name ${JSON.stringify(name)} is not a valid volume name; pass --name NAME`,
    'run',
  );
}

function isCacheVolumeName(name: string): boolean {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
}

/** `cachevol run`. */
export const runCommand: CommandSpec = {
  name: 'run',
  summary: 'attach a volume, run a command with its cache paths linked, commit on exit 0, abandon otherwise',
  positionals: [],
  command: true,
  options: {
    cache: {
      type: 'string',
      short: 'c',
      multiple: true,
      value: 'PATH',
      description: 'a cache path to link (repeatable)',
    },
    name: {
      type: 'string',
      value: 'NAME',
      description: "the volume name (default: the working directory's name)",
    },
    ...ATTACH_OPTIONS,
  },
  details:
    'The command runs directly (no shell) with stdin/stdout/stderr inherited, in the working\n' +
    "directory; cachevol's own messages go to stderr. The fork's lease is renewed while it runs.\n" +
    "Exit code: the command's; 128+N when a signal N (SIGINT, SIGTERM, SIGHUP: forwarded to the\n" +
    'command) ended it, and then the fork is abandoned; 127 when the command is not found.\n' +
    "A failed commit is a warning (the cache is best-effort); the exit code stays the command's.",
  example: 'cachevol run --cache node_modules --name deps -- npm ci',
  async run(args, io) {
    const out = new Output(io);
    const globals = readGlobals(args, io, 'run');
    const inputs = readAttachInputs(args, io, 'run');
    checkDirectories(inputs, 'run');
    const name = validateName(str(args, 'name') ?? defaultName(inputs.workdir));
    const volumes = [
      {
        name,
        scope: inputs.scope,
        paths: list(args, 'cache'),
        commit: inputs.commit,
        ...(inputs.size ? { size: inputs.size } : {}),
      },
    ];
    planLinks(volumes, inputs); // every path is checked before anything is attached
    const [file, ...rest] = args.command as [string, ...string[]];
    const commands = [{ file, args: rest }];
    const engine = await openEngineForJob(globals, out);
    if (!engine) return (await runUncached(commands, inputs.workdir, out)).exitCode;
    const report = await runJob(engine, volumes, inputs, commands, out, globals.leaseMs ?? DEFAULT_LEASE_MS);
    return report.exitCode;
  },
};
