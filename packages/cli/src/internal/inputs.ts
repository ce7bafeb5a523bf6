import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  CACHE_OS,
  type CacheOs,
  COMMIT_MODES,
  type CommitMode,
  LINK_METHODS,
  type LinkOptions,
  MAX_FALLBACKS,
  parseSize,
  type VolumeKey,
  validateLabel,
  validateName,
} from '@cachevol/core';
import { DEFAULT_GRACE_MS, readGrace } from './grace.js';
import type { CliIo } from './output.js';
import type { ParsedArgs } from './spec.js';
import { UsageError } from './usage-error.js';

/**
 * Reads a string flag.
 *
 * @param args - parsed command line
 * @param name - the flag's long name
 */
export function str(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Reads a repeatable string flag.
 *
 * @param args - parsed command line
 * @param name - the flag's long name
 */
export function list(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/**
 * Reads a boolean flag.
 *
 * @param args - parsed command line
 * @param name - the flag's long name
 */
export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** The operating system cachevol runs on, for path rules. */
export function hostOs(): CacheOs {
  return process.platform === 'darwin' ? 'macos' : 'linux';
}

/** Settings shared by attach, run and pipeline commands, all checked before anything is touched. */
export interface AttachInputs {
  scope: string;
  size: string | undefined;
  commit: CommitMode;
  workdir: string;
  instanceRoot: string;
  os: CacheOs;
  replace: boolean;
  job: string;
  linkMethod: NonNullable<LinkOptions['method']>;
  /** How long the job's processes have after SIGTERM before SIGKILL (ms; `run`, `pipeline run`). */
  graceMs: number;
}

/** The commands that run programs, and so read `--grace` / `CACHEVOL_GRACE`. */
const RUNS_PROGRAMS = new Set(['run', 'pipeline run']);

/**
 * Reads and checks the attach flags (scope, size, commit mode, directories, os; the grace of
 * the commands that run programs).
 *
 * @param args - parsed command line
 * @param io - working directory
 * @param command - for error hints
 * @param defaultScope - the scope when `--scope` is absent
 * @throws {@link UsageError} for a bad commit mode or os; `INVALID_ARGUMENT` for a bad size or scope
 */
export function readAttachInputs(
  args: ParsedArgs,
  io: CliIo,
  command: string,
  defaultScope = 'default',
): AttachInputs {
  const scope = validateName(str(args, 'scope') ?? defaultScope, 'scope');
  const size = str(args, 'size');
  if (size !== undefined) parseSize(size);
  const commit = str(args, 'commit') ?? 'on-success';
  if (!COMMIT_MODES.includes(commit as CommitMode)) {
    throw new UsageError(
      `--commit: expected one of ${COMMIT_MODES.join(', ')}, got ${JSON.stringify(commit)}`,
      command,
    );
  }
  const os = str(args, 'os') ?? hostOs();
  if (!CACHE_OS.includes(os as CacheOs)) {
    throw new UsageError(`--os: expected one of ${CACHE_OS.join(', ')}, got ${JSON.stringify(os)}`, command);
  }
  const linkMethod = str(args, 'link') ?? 'auto';
  if (!(LINK_METHODS as readonly string[]).includes(linkMethod)) {
    throw new UsageError(
      `--link: expected one of ${LINK_METHODS.join(', ')}, got ${JSON.stringify(linkMethod)}`,
      command,
    );
  }
  const dir = (value: string | undefined, fallback: string) =>
    value === undefined ? fallback : isAbsolute(value) ? value : resolve(io.cwd, value);
  return {
    scope,
    size,
    commit: commit as CommitMode,
    workdir: dir(str(args, 'workdir'), io.cwd),
    instanceRoot: dir(str(args, 'instance-root'), '/'),
    os: os as CacheOs,
    replace: flag(args, 'replace'),
    job: validateLabel(str(args, 'job') ?? `cli-${process.pid}`, 'job'),
    linkMethod: linkMethod as NonNullable<LinkOptions['method']>,
    graceMs: RUNS_PROGRAMS.has(command) ? readGrace(args, io, command) : DEFAULT_GRACE_MS,
  };
}

/**
 * Checks that the working directory and the instance root are existing directories (before
 * anything is attached).
 *
 * @param inputs - the attach inputs
 * @param command - for error hints
 * @throws {@link UsageError} naming the flag
 */
export function checkDirectories(inputs: AttachInputs, command: string): void {
  for (const [flagName, dir] of [
    ['--workdir', inputs.workdir],
    ['--instance-root', inputs.instanceRoot],
  ] as const) {
    let ok = false;
    try {
      ok = statSync(dir).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new UsageError(`${flagName}: ${dir} is not an existing directory`, command);
  }
}

/**
 * Checks a volume name given on the command line.
 *
 * @param name - the name
 */
export function volumeName(name: string): string {
  return validateName(name);
}

/**
 * Reads the repeatable `--fallback NAME[@SCOPE]` flag: each a volume name (its template tokens
 * expanded by `expand`, like the attached volume's name) and, after the last `@`, a scope
 * (default: the attach's scope). Volume names and scopes never contain `@`.
 *
 * @param args - parsed command line
 * @param scope - the attach's scope
 * @param expand - expands a name's template tokens
 * @param command - for error hints
 * @returns the fallback volumes, in order
 * @throws {@link UsageError} for more than `MAX_FALLBACKS`; `INVALID_ARGUMENT` for a bad name or scope
 */
export function readFallbacks(
  args: ParsedArgs,
  scope: string,
  expand: (name: string) => string,
  command: string,
): VolumeKey[] {
  const given = list(args, 'fallback');
  if (given.length > MAX_FALLBACKS)
    throw new UsageError(
      `--fallback: at most ${MAX_FALLBACKS} fallback volumes, got ${given.length}`,
      command,
    );
  return given.map((text) => {
    const at = text.lastIndexOf('@');
    const name = at < 0 ? text : text.slice(0, at);
    return {
      name: validateName(expand(name), 'fallback volume name'),
      scope: at < 0 ? scope : validateName(text.slice(at + 1), 'fallback scope'),
    };
  });
}
