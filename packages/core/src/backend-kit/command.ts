import { type ChildProcess, spawn } from 'node:child_process';
import { CacheVolumeError, CommandFailedError } from '../errors.js';
import { classifyStderr, errnoFromStderr, type StderrRule } from './stderr.js';

/** How a command ended. */
export interface CommandResult {
  /** Its exit code (0 on success), or `null` when it was killed (a timeout, an abort). */
  exitCode: number | null;
  /** What it wrote to standard output (empty with `stdout: 'ignore'`). */
  stdout: string;
  /** What it wrote to standard error, trimmed (at most the first 64 KiB). */
  stderr: string;
  /** True when it was killed for running past `timeoutMs`. */
  timedOut: boolean;
}

/** Options for {@link spawnCommand} and {@link runCommand}. */
export interface CommandOptions {
  /**
   * What to install when the program is missing, for the `BACKEND_UNAVAILABLE` message, e.g.
   * ``install btrfs-progs (`apt-get install btrfs-progs`)``.
   */
  installHint?: string;
  /**
   * For {@link runCommand}: how failures are classified by their standard error; the first
   * matching rule gives the error's code and hint. Unmatched failures are `BACKEND_FAILED`.
   */
  failures?: readonly StderrRule[];
  /** Variables added to the environment (which always has `LC_ALL=C`). */
  env?: Record<string, string>;
  /** Kill the command (SIGTERM) after this many milliseconds. */
  timeoutMs?: number;
  /** Kill the command (SIGTERM) when this signal aborts. */
  signal?: AbortSignal;
  /**
   * Keep (`pipe`) or drop (`ignore`) standard output.
   * @defaultValue `'pipe'`
   */
  stdout?: 'pipe' | 'ignore';
}

/** Keep at most this much of a command's standard error. */
const STDERR_LIMIT = 64 * 1024;

/** A program started by {@link spawnTool}. */
export interface SpawnedTool {
  /** Its process; `stdout` (unless `'ignore'`), `stderr`, and `stdin` with `'pipe'` are pipes. */
  child: ChildProcess;
  /** What it wrote to standard error so far, trimmed (at most the first 64 KiB). */
  stderr(): string;
  /**
   * Its exit code once it closed (`null`: killed by a signal); rejects with `BACKEND_UNAVAILABLE`
   * when it could not be started. Never an unhandled rejection.
   */
  exited: Promise<number | null>;
}

/**
 * Starts a program with an argument array, never through a shell, with `LC_ALL=C` (so its
 * messages can be matched), keeping its standard error: what {@link spawnCommand} and the
 * streaming helpers (`streamCommand`, `pipeCommand`) are built on.
 *
 * @param command - the program
 * @param args - its arguments
 * @param options - standard input and output, environment, install hint
 */
export function spawnTool(
  command: string,
  args: readonly string[],
  options: Pick<CommandOptions, 'env' | 'installHint' | 'stdout'> & { stdin?: 'pipe' | 'ignore' } = {},
): SpawnedTool {
  const child = spawn(command, [...args], {
    shell: false,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C', ...options.env },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk;
  });
  let spawned = false;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('spawn', () => {
      spawned = true;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      // After the spawn, an error is a failed kill: 'close' still reports how it ended.
      if (!spawned) reject(startFailure(command, args, error, options.installHint));
    });
    child.once('close', (exitCode) => {
      if (spawned) resolve(exitCode);
    });
  });
  exited.catch(() => undefined); // the caller awaits it
  return { child, stderr: () => stderr.trim(), exited };
}

/**
 * Runs a program with an argument array, never through a shell, with no standard input and
 * `LC_ALL=C` (so its messages can be matched). It resolves however the program exits: the
 * caller reads the exit code and standard error.
 *
 * @param command - the program (a name looked up on `PATH`, or a path)
 * @param args - its arguments, passed as they are
 * @param options - install hint, environment, timeout, abort signal, standard output
 * @throws `CacheVolumeError` `BACKEND_UNAVAILABLE` when the program cannot be started
 *   (missing: with the install hint; not executable)
 *
 * @example
 * ```ts
 * const { exitCode, stderr } = await spawnCommand('hdiutil', ['detach', device])
 * if (exitCode !== 0 && /busy/.test(stderr)) ...
 * ```
 */
export async function spawnCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const { child, stderr, exited } = spawnTool(command, args, options);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  let timedOut = false;
  const kill = () => child.kill('SIGTERM');
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs);
  if (options.signal?.aborted) kill();
  options.signal?.addEventListener('abort', kill, { once: true });
  try {
    const exitCode = await exited;
    const text = stderr();
    return {
      exitCode,
      stdout,
      stderr: timedOut ? `timed out after ${options.timeoutMs} ms${text ? `. ${text}` : ''}` : text,
      timedOut,
    };
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
  }
}

function startFailure(
  command: string,
  args: readonly string[],
  error: NodeJS.ErrnoException,
  installHint: string | undefined,
): CacheVolumeError {
  const details = { command, args: [...args], errno: error.code };
  if (error.code === 'ENOENT') {
    const hint = installHint ? `: ${installHint}` : ': install it, or put it on PATH';
    return new CacheVolumeError('BACKEND_UNAVAILABLE', `\`${command}\` was not found${hint}.`, {
      cause: error,
      details,
    });
  }
  return new CacheVolumeError(
    'BACKEND_UNAVAILABLE',
    `\`${command}\` cannot be run (${error.code ?? error.message}): check that it is an executable this process may run.`,
    { cause: error, details },
  );
}

/**
 * Runs a program like {@link spawnCommand} and returns its standard output when it exits 0.
 *
 * @param command - the program
 * @param args - its arguments
 * @param options - install hint, failure rules, environment, timeout, abort signal
 * @returns its standard output, as written (not trimmed)
 * @throws `CommandFailedError` when it exits non-zero or is killed: the code and hint of
 *   the first matching `failures` rule (else `BACKEND_FAILED`), and in `details.errno` the errno
 *   its standard error names (`ENOSPC`, ...), if any
 * @throws `CacheVolumeError` `BACKEND_UNAVAILABLE` when it cannot be started
 *
 * @example
 * ```ts
 * const out = await runCommand('btrfs', ['subvolume', 'show', path], {
 *   installHint: 'install btrfs-progs (`apt-get install btrfs-progs`)',
 *   failures: [{ pattern: /No such file/, code: 'NOT_FOUND' }],
 * })
 * ```
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<string> {
  const result = await spawnCommand(command, args, options);
  if (result.exitCode === 0) return result.stdout;
  throw commandFailure(command, args, result, options.failures);
}

/**
 * The error of a command that did not exit 0, classified by `failures` (see {@link runCommand}).
 *
 * @param command - the program
 * @param args - its arguments
 * @param result - how it ended
 * @param failures - the rules that classify its standard error
 */
export function commandFailure(
  command: string,
  args: readonly string[],
  result: Pick<CommandResult, 'exitCode' | 'stderr'>,
  failures: readonly StderrRule[] = [],
): CommandFailedError {
  const rule = classifyStderr(result.stderr, failures);
  const errno = errnoFromStderr(result.stderr);
  return new CommandFailedError(
    { command, args: [...args], exitCode: result.exitCode, stderr: result.stderr },
    rule?.code ?? 'BACKEND_FAILED',
    { details: errno ? { errno } : {}, ...(rule?.hint ? { hint: rule.hint } : {}) },
  );
}
