import { basename } from 'node:path';
import { containerCacheVolumeName, DEFAULT_LEASE_MS, validateName } from '@cachevol/core';
import { expandName } from '../checksum.js';
import { readGlobals } from '../globals.js';
import { checkDirectories, flag, list, readAttachInputs, readFallbacks, str } from '../inputs.js';
import { type JobVolume, planLinks, runJob, runUncached } from '../job.js';
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

/**
 * The pipeline's container cache volume (`SLUG/container-cache`) with its Docker engine as the
 * job's service; the engine's code is loaded only when `--container-cache` is given.
 */
async function containerVolume(
  slug: string,
  dockerd: string | undefined,
  inputs: ReturnType<typeof readAttachInputs>,
  strict: boolean,
): Promise<JobVolume> {
  const name = containerCacheVolumeName(slug);
  const { dockerService, checkDockerd } = await import('../container/index.js');
  if (dockerd !== undefined) checkDockerd(dockerd);
  return {
    name,
    scope: inputs.scope,
    paths: [],
    commit: inputs.commit,
    ...(inputs.size ? { size: inputs.size } : {}),
    strict,
    service: dockerService(dockerd === undefined ? {} : { dockerd }),
  };
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
  const paths = list(args, 'cache');
  const slug = str(args, 'container-cache');
  const dockerd = str(args, 'dockerd') ?? (io.env.CACHEVOL_DOCKERD || undefined);
  if (dockerd !== undefined && slug === undefined)
    throw new UsageError('--dockerd (or CACHEVOL_DOCKERD) needs --container-cache SLUG', 'run');
  const volumes: JobVolume[] = [];
  // With --container-cache alone, the job attaches that volume only (no --cache, no --name).
  if (slug === undefined || paths.length > 0 || given !== undefined) {
    volumes.push({
      name,
      scope: inputs.scope,
      paths,
      commit: inputs.commit,
      ...(inputs.size ? { size: inputs.size } : {}),
      failOnMiss,
      strict,
      fallbacks: readFallbacks(args, inputs.scope, (n) => expandName(n, inputs.workdir, inputs.os), 'run'),
    });
  }
  if (slug !== undefined) volumes.push(await containerVolume(slug, dockerd, inputs, strict));
  planLinks(volumes, inputs, { root: globals.root }); // every path is checked before anything is attached
  const [file, ...rest] = args.command as [string, ...string[]];
  const commands = [{ file, args: rest }];
  const engine = await openEngineForJob(globals, out, { strict: strict || failOnMiss });
  if (!engine) return (await runUncached(commands, inputs.workdir, out, inputs.graceMs, volumes)).exitCode;
  const report = await runJob(engine, volumes, inputs, commands, out, globals.leaseMs ?? DEFAULT_LEASE_MS);
  return report.exitCode;
};
