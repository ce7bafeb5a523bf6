import { basename } from 'node:path';
import { DEFAULT_LEASE_MS, validateName } from '@cachevol/core';
import { expandName } from '../checksum.js';
import { readGlobals } from '../globals.js';
import { checkDirectories, flag, list, readAttachInputs, readFallbacks, str } from '../inputs.js';
import { planLinks, runJob, runUncached } from '../job.js';
import { openEngineForJob } from '../open.js';
import { Output } from '../output.js';
import type { CommandRun } from '../spec.js';
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

/** `cachevol run`: attach, run the command with the cache paths linked, commit or abandon. */
export const run: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'run');
  const inputs = readAttachInputs(args, io, 'run');
  checkDirectories(inputs, 'run');
  const strict = flag(args, 'strict');
  const failOnMiss = flag(args, 'fail-on-miss');
  const given = str(args, 'name');
  const name = validateName(
    given === undefined ? defaultName(inputs.workdir) : expandName(given, inputs.workdir, inputs.os),
  );
  const volumes = [
    {
      name,
      scope: inputs.scope,
      paths: list(args, 'cache'),
      commit: inputs.commit,
      ...(inputs.size ? { size: inputs.size } : {}),
      failOnMiss,
      strict,
      fallbacks: readFallbacks(args, inputs.scope, (n) => expandName(n, inputs.workdir, inputs.os), 'run'),
    },
  ];
  planLinks(volumes, inputs, { root: globals.root }); // every path is checked before anything is attached
  const [file, ...rest] = args.command as [string, ...string[]];
  const commands = [{ file, args: rest }];
  const engine = await openEngineForJob(globals, out, { strict: strict || failOnMiss });
  if (!engine) return (await runUncached(commands, inputs.workdir, out, inputs.graceMs)).exitCode;
  const report = await runJob(engine, volumes, inputs, commands, out, globals.leaseMs ?? DEFAULT_LEASE_MS);
  return report.exitCode;
};
