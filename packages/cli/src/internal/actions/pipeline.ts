import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  type ConfigProblem,
  configProblemsError,
  DEFAULT_LEASE_MS,
  nestedPairs,
  type PipelineStep,
  parsePipeline,
  validateName,
} from '@cachevol/core';
import { fileChecksum } from '../checksum.js';
import { readGlobals } from '../globals.js';
import { checkDirectories, flag, readAttachInputs, str } from '../inputs.js';
import { colorResult, type JobVolume, planLinks, runJob, runUncached, type VolumeReport } from '../job.js';
import { openEngine, openEngineForJob } from '../open.js';
import { type CliIo, formatMs, Output } from '../output.js';
import { PIPELINE_SHELL } from '../pipeline-shell.js';
import type { CommandRun, ParsedArgs } from '../spec.js';
import { UsageError } from '../usage-error.js';

async function loadPipeline(args: ParsedArgs, io: CliIo, command: string, root: string) {
  const file = resolve(io.cwd, args.positionals[0] as string);
  const explicitSlug = str(args, 'slug');
  const workdir = resolve(io.cwd, str(args, 'workdir') ?? '.');
  const slug = explicitSlug ?? basename(workdir);
  try {
    validateName(slug, 'pipeline slug');
  } catch (error) {
    if (explicitSlug !== undefined) throw error;
    throw new UsageError(
      `the working directory's name ${JSON.stringify(slug)} is not a valid pipeline slug; pass --slug SLUG`,
      command,
    );
  }
  const inputs = readAttachInputs(args, io, command, slug);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      command,
    );
  }
  // `$VAR` in cache values comes from cachevol's own environment, and `~` from its HOME, as
  // `buildkite-agent pipeline upload` reads them.
  const pipeline = parsePipeline(text, {
    pipelineSlug: slug,
    os: inputs.os,
    filename: file,
    env: io.env,
    checksum: fileChecksum(inputs.workdir),
  });
  const jobs = pipeline.steps.map((step) => ({
    step,
    volumes: step.volumes.map(
      (v): JobVolume => ({
        name: v.name,
        scope: inputs.scope,
        size: v.size,
        paths: v.paths,
        commit: inputs.commit,
        failOnMiss: flag(args, 'fail-on-miss'),
        strict: flag(args, 'strict'),
        ...(v.fallbacks
          ? { fallbacks: v.fallbacks.map((f) => ({ name: f.name, scope: f.scope ?? inputs.scope })) }
          : {}),
      }),
    ),
  }));
  // Every path checked before anything runs, also where two spellings meet on the host.
  const problems = jobs.flatMap(({ step, volumes }) =>
    linkClashes(step, planLinks(volumes, inputs, { root }), inputs.os),
  );
  if (problems.length > 0) throw configProblemsError(problems, file);
  return { file, slug, inputs, pipeline, jobs };
}

/**
 * The places where two paths of one step are linked one inside the other (or at the same place)
 * on this host, although the file spells them apart: `x` in the working directory `/w` and
 * `/w/x`, or a `~/...` path under the working directory. The first link would hold the second,
 * so `run` could not make it. Sorted with a trailing `/`, each link path comes right before
 * everything below it: one pass.
 */
function linkClashes(
  step: PipelineStep,
  links: { path: string; linkPath: string }[][],
  os: 'linux' | 'macos',
): ConfigProblem[] {
  const fold = (path: string) => (os === 'macos' ? path.toLowerCase() : path);
  const all = links.flat().map((link) => ({ link, key: `${fold(link.linkPath)}/` }));
  const problems: ConfigProblem[] = nestedPairs(all).map(([{ link }, { link: outer }]) => ({
    path: step.path,
    message: `Paths ${JSON.stringify(outer.path)} and ${JSON.stringify(link.path)} are linked at ${outer.linkPath} and ${link.linkPath}, one inside the other: list only ${JSON.stringify(outer.path)}.`,
  }));
  return problems;
}

/** A step's label, key, or the first line of its first command: one line for headings. */
function stepTitle(step: PipelineStep): string {
  const title = step.label ?? step.key ?? step.commands[0]?.split('\n')[0] ?? step.path;
  return step.matrix === undefined ? title : `${title} (${matrixText(step.matrix)})`;
}

/** A matrix combination on one line: `os=linux, arch=arm64`, or the value of an unnamed one. */
function matrixText(matrix: Readonly<Record<string, string>>): string {
  return Object.entries(matrix)
    .map(([dim, value]) => (dim === '' ? value : `${dim}=${value}`))
    .join(', ');
}

/** One warning of the pipeline file, as `warn` prints it. */
function warningText(file: string, warning: ConfigProblem): string {
  const where = warning.line === undefined ? '' : ` (line ${warning.line}, column ${warning.column ?? 1})`;
  return `${file}: ${warning.path}${where}: ${warning.message}`;
}

/** `cachevol pipeline plan`. */
export const pipelinePlan: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'pipeline plan');
  const { file, slug, inputs, pipeline, jobs } = await loadPipeline(args, io, 'pipeline plan', globals.root);
  const engine = await openEngine(globals, { create: false });
  const steps = [];
  for (const { step, volumes } of jobs) {
    const links = planLinks(volumes, inputs);
    const title = stepTitle(step);
    const planned = [];
    for (const [i, volume] of volumes.entries()) {
      const fallbacks = volume.fallbacks ? [...volume.fallbacks] : [];
      const selection = engine ? await engine.lookup(volume.name, { scope: volume.scope, fallbacks }) : null;
      const source = selection?.source;
      planned.push({
        name: volume.name,
        scope: volume.scope,
        size: volume.size,
        wouldGet: selection?.result ?? 'miss',
        versionId: selection?.version?.id ?? null,
        source: source
          ? { scope: source.scope, name: source.name, versionId: source.versionId, result: source.result }
          : null,
        fallbacks: fallbacks.map((f) => ({ name: f.name, scope: f.scope })),
        paths: (links[i] ?? []).map((l) => ({ path: l.path, linkPath: l.linkPath, subdir: l.subdir })),
      });
    }
    steps.push({
      index: step.index,
      path: step.path,
      title,
      label: step.label ?? null,
      key: step.key ?? null,
      matrix: step.matrix ?? null,
      commands: step.commands,
      volumes: planned,
    });
  }
  if (flag(args, 'json')) {
    out.json({ file, slug, os: pipeline.os, workdir: inputs.workdir, warnings: pipeline.warnings, steps });
    return 0;
  }
  for (const warning of pipeline.warnings) out.warn(warningText(file, warning));
  out.line(`${out.out('bold', file)}: pipeline ${slug} (${pipeline.os}), workdir ${inputs.workdir}`);
  for (const step of steps) {
    out.line(`step ${step.index + 1} (${step.path}): ${step.title}`);
    if (step.volumes.length === 0) out.line('  no cache');
    for (const v of step.volumes) {
      const from = v.source
        ? `, restored from ${v.source.scope}/${v.source.name} (${v.source.result === 'stale' ? 'stale ' : ''}version ${v.source.versionId})`
        : '';
      const now = v.versionId ? `${v.wouldGet} (version ${v.versionId})` : `${v.wouldGet}${from}`;
      out.line(`  volume ${v.scope}/${v.name}, size ${v.size}: would get ${now}`);
      for (const p of v.paths) out.line(`    ${p.linkPath} -> volume:${p.subdir}`);
    }
  }
  return 0;
};

/** `cachevol pipeline run`. */
export const pipelineRun: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'pipeline run');
  const { file, jobs, inputs, pipeline } = await loadPipeline(args, io, 'pipeline run', globals.root);
  for (const warning of pipeline.warnings) out.warn(warningText(file, warning));
  checkDirectories(inputs, 'pipeline run');
  const engine = await openEngineForJob(globals, out, {
    strict: flag(args, 'strict') || flag(args, 'fail-on-miss'),
  });
  const summary: {
    step: number;
    title: string;
    exitCode: number;
    commandMs: number;
    volumes: VolumeReport[];
  }[] = [];
  let exitCode = 0;
  for (const { step, volumes } of jobs) {
    const title = stepTitle(step);
    out.note(out.err('bold', `--- step ${step.index + 1}/${jobs.length}: ${title}`));
    if (step.commands.length === 0) {
      out.note('no command (plugins-only step); skipped');
      continue;
    }
    const commands = step.commands.map((line) => ({ file: PIPELINE_SHELL, args: ['-c', line] }));
    const report = engine
      ? await runJob(engine, volumes, inputs, commands, out, globals.leaseMs ?? DEFAULT_LEASE_MS)
      : await runUncached(commands, inputs.workdir, out, inputs.graceMs);
    summary.push({
      step: step.index + 1,
      title,
      exitCode: report.exitCode,
      commandMs: report.commandMs,
      volumes: report.volumes,
    });
    if (report.exitCode !== 0) {
      exitCode = report.exitCode;
      out.note(out.err('red', `step ${step.index + 1} failed with exit code ${report.exitCode}; stopping`));
      break;
    }
  }
  out.note(out.err('bold', '--- summary'));
  for (const s of summary) {
    out.note(`step ${s.step} (${s.title}): exit ${s.exitCode}, command ran ${formatMs(s.commandMs)}`);
    for (const v of s.volumes) {
      out.note(
        `  volume ${v.scope}/${v.name}: ${colorResult(out, v.result)}, attach ${formatMs(v.attachMs)}, ${v.action}${v.versionId ? ` as ${v.versionId}` : ''} in ${formatMs(v.finishMs)}`,
      );
    }
  }
  return exitCode;
};
