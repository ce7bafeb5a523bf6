/**
 * The closed set of error codes every cachevol error carries. Callers branch on `code`, never on
 * the message text.
 *
 * - `INVALID_ARGUMENT`: input that can never succeed (bad size, bad name, bad option).
 * - `NOT_FOUND`: an id or name that does not exist.
 * - `ALREADY_EXISTS`: something that must be new already exists.
 * - `CONFLICT`: the operation is not allowed in the current state (double commit, commit after
 *   abandon).
 * - `CAPACITY_EXCEEDED`: a write or fork would go past the fork's capacity.
 * - `BACKEND_UNAVAILABLE`: the storage tool or filesystem is missing or unusable.
 * - `BACKEND_FAILED`: a backend command failed (see {@link CommandFailedError}).
 * - `STORE_FAILED`: the state store could not be read or written.
 * - `INTERNAL`: a broken invariant: a bug in cachevol.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'CAPACITY_EXCEEDED'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_FAILED'
  | 'STORE_FAILED'
  | 'INTERNAL';

/**
 * Marks of the error classes, shared by every copy of this module through the global symbol
 * registry: the ESM and CommonJS builds, and each entry point's bundle (`@cachevol/core` and
 * `@cachevol/core/testing`), carry their own copy of the classes, and `instanceof` must still
 * recognise an error that another copy made.
 */
const CACHE_VOLUME_ERROR = Symbol.for('cachevol.CacheVolumeError');
const COMMAND_FAILED_ERROR = Symbol.for('cachevol.CommandFailedError');

function hasMark(value: unknown, mark: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[mark] === true;
}

/** Options accepted by {@link CacheVolumeError}. */
export interface CacheVolumeErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured facts about the failure (ids, values), for logs and `--json` output. */
  details?: Record<string, unknown>;
}

/**
 * The one error type cachevol throws. `code` classifies it; `message` says what went wrong and
 * what to do about it.
 *
 * @example
 * ```ts
 * try { parseSize('19g') } catch (e) {
 *   if (isCacheVolumeError(e, 'INVALID_ARGUMENT')) console.error(e.message)
 * }
 * ```
 */
export class CacheVolumeError extends Error {
  /**
   * `error instanceof CacheVolumeError` is true for an error made by any copy of this class
   * (another module format or entry point of `@cachevol/core`), so it never depends on which
   * copy a backend, a store or the testing kit was bundled with.
   *
   * @param value - anything
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasMark(value, CACHE_VOLUME_ERROR);
  }

  /** What kind of failure this is. */
  readonly code: ErrorCode;
  /** Structured facts about the failure. */
  readonly details: Record<string, unknown>;

  /**
   * @param code - the failure class
   * @param message - what went wrong and what to do about it
   * @param options - cause and details
   */
  constructor(code: ErrorCode, message: string, options: CacheVolumeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CacheVolumeError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** What a failed external command looked like. */
export interface CommandFailure {
  /** The program that ran, e.g. `zfs`. */
  command: string;
  /** Its arguments, exactly as passed (never through a shell). */
  args: readonly string[];
  /** Its exit code, or `null` when it was killed by a signal or never started. */
  exitCode: number | null;
  /** What it wrote to standard error (trimmed). */
  stderr: string;
}

/** Options accepted by {@link CommandFailedError}. */
export interface CommandFailedErrorOptions extends CacheVolumeErrorOptions {
  /** What to do about the failure, appended to the message. */
  hint?: string;
}

/**
 * A backend command that failed: carries the command, its arguments, exit code and stderr so
 * that the failure can be reproduced by hand.
 */
export class CommandFailedError extends CacheVolumeError implements CommandFailure {
  /**
   * Like {@link CacheVolumeError}'s: true for a command failure made by any copy of this class.
   *
   * @param value - anything
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasMark(value, COMMAND_FAILED_ERROR);
  }

  /** @inheritDoc CommandFailure.command */
  readonly command: string;
  /** @inheritDoc CommandFailure.args */
  readonly args: readonly string[];
  /** @inheritDoc CommandFailure.exitCode */
  readonly exitCode: number | null;
  /** @inheritDoc CommandFailure.stderr */
  readonly stderr: string;

  /**
   * @param failure - the command that failed
   * @param code - the class to report; `BACKEND_FAILED` unless the stderr says more
   * @param options - cause, details, and a hint appended to the message
   */
  constructor(
    failure: CommandFailure,
    code: ErrorCode = 'BACKEND_FAILED',
    options: CommandFailedErrorOptions = {},
  ) {
    const line = [failure.command, ...failure.args].join(' ');
    const status = failure.exitCode === null ? 'did not exit normally' : `exited with ${failure.exitCode}`;
    const hint = options.hint ? ` ${options.hint}` : '';
    super(code, `\`${line}\` ${status}${failure.stderr ? `: ${failure.stderr}` : ''}${hint}`, {
      cause: options.cause,
      details: { ...options.details, ...failure },
    });
    this.name = 'CommandFailedError';
    this.command = failure.command;
    this.args = failure.args;
    this.exitCode = failure.exitCode;
    this.stderr = failure.stderr;
  }
}

Object.defineProperty(CacheVolumeError.prototype, CACHE_VOLUME_ERROR, { value: true });
Object.defineProperty(CommandFailedError.prototype, COMMAND_FAILED_ERROR, { value: true });

/**
 * Tells whether `error` is a {@link CacheVolumeError} (made by any copy of `@cachevol/core`),
 * optionally of a given code.
 *
 * @param error - anything caught
 * @param code - the code to match; any code when omitted
 */
export function isCacheVolumeError(error: unknown, code?: ErrorCode): error is CacheVolumeError {
  return error instanceof CacheVolumeError && (code === undefined || error.code === code);
}
