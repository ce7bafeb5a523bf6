import { type CacheVolumeError, isCacheVolumeError } from '@cachevol/core';
import { UsageError } from './usage-error.js';

/** A place to write text: `process.stdout`, `process.stderr`, or a test buffer. */
export interface TextSink {
  /**
   * Writes text as is (no newline added).
   *
   * @param text - the text
   */
  write(text: string): unknown;
  /** True when the sink is a terminal (colour and progress are shown only then). */
  isTTY?: boolean;
}

/** What a command reads and writes besides the disk: injected so tests can run `main` in process. */
export interface CliIo {
  /** Results (fork ids, listings, JSON). */
  stdout: TextSink;
  /** Diagnostics, progress and errors. */
  stderr: TextSink;
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** The directory relative paths are resolved against. */
  cwd: string;
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;

/** A style name {@link Painter} knows. */
export type Style = keyof typeof CODES;

/** Wraps text in ANSI styles when colour is on, and returns it unchanged otherwise. */
export type Painter = (style: Style, text: string) => string;

/**
 * Tells whether to colour output written to `sink`: only on a terminal, and never when
 * `NO_COLOR` is set to a non-empty value (https://no-color.org).
 *
 * @param sink - where the text goes
 * @param env - the environment
 */
export function useColor(sink: TextSink, env: CliIo['env']): boolean {
  return sink.isTTY === true && !env.NO_COLOR;
}

/**
 * Makes a {@link Painter} for one sink.
 *
 * @param enabled - whether to colour at all
 */
export function painter(enabled: boolean): Painter {
  return (style, text) => (enabled ? `\u001b[${CODES[style][0]}m${text}\u001b[${CODES[style][1]}m` : text);
}

/** Writes one line per call; `json` prints a value as one line of JSON. */
export class Output {
  /** Styles for stdout. */
  readonly out: Painter;
  /** Styles for stderr. */
  readonly err: Painter;

  /**
   * @param io - the streams and environment
   */
  constructor(readonly io: CliIo) {
    this.out = painter(useColor(io.stdout, io.env));
    this.err = painter(useColor(io.stderr, io.env));
  }

  /**
   * Writes a result line to stdout.
   *
   * @param text - the line, without the newline
   */
  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  /**
   * Writes a value as JSON to stdout.
   *
   * @param value - anything JSON-serialisable
   */
  json(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * Writes a diagnostic line to stderr, prefixed with `cachevol: `.
   *
   * @param text - the message
   */
  note(text: string): void {
    this.io.stderr.write(`${this.err('dim', 'cachevol:')} ${text}\n`);
  }

  /**
   * Writes a warning line to stderr.
   *
   * @param text - the message
   */
  warn(text: string): void {
    this.io.stderr.write(`${this.err('yellow', 'cachevol: warning:')} ${oneLine(text)}\n`);
  }
}

/**
 * Collapses a message onto one line (error messages may quote a tool's multi-line stderr, or
 * list several problems): lines are joined with `; `, or a space after a line ending in `:`.
 *
 * @param text - any text
 */
export function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim().replace(/^- /, ''))
    .filter(Boolean);
  return lines.reduce(
    (joined, line) => (joined === '' ? line : `${joined}${joined.endsWith(':') ? ' ' : '; '}${line}`),
    '',
  );
}

/**
 * Formats an error the way every command reports it: one line, `cachevol: CODE: message`.
 *
 * @param error - anything thrown
 */
export function formatError(error: unknown): { line: string; json: Record<string, unknown> } {
  if (error instanceof UsageError) {
    const hint = error.command ? ` (see \`cachevol ${error.command} --help\`)` : ' (see `cachevol --help`)';
    return {
      line: `cachevol: ${oneLine(error.message)}${hint}`,
      json: { error: { code: 'USAGE', message: error.message } },
    };
  }
  if (isCacheVolumeError(error)) {
    return {
      line: `cachevol: ${error.code}: ${oneLine(error.message)}`,
      json: { error: { code: error.code, message: error.message, details: safeDetails(error) } },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `cachevol: INTERNAL: ${oneLine(message)}`, json: { error: { code: 'INTERNAL', message } } };
}

function safeDetails(error: CacheVolumeError): unknown {
  try {
    return JSON.parse(JSON.stringify(error.details));
  } catch {
    return {};
  }
}

/** How often progress is shown: on a terminal, and as plain lines in a log (CI). */
export const PROGRESS_INTERVAL_MS = { terminal: 100, log: 10_000 } as const;

/**
 * Shows `progress` events of long copies on stderr. On a terminal: one self-overwriting line,
 * at most ten times a second. Otherwise (a CI log, a pipe): a plain line every ten seconds, so
 * a long copy is visible in the log and a short one prints nothing.
 *
 * @param io - the streams
 * @param clock - the time source (tests)
 * @returns `update(done, total)` and `clear()`
 */
export function progressLine(
  io: CliIo,
  clock: () => number = Date.now,
): {
  update(doneBytes: number, totalBytes: number | null): void;
  clear(): void;
} {
  const terminal = io.stderr.isTTY === true;
  const interval = terminal ? PROGRESS_INTERVAL_MS.terminal : PROGRESS_INTERVAL_MS.log;
  let last: number | null = null;
  let shown = false;
  return {
    update(doneBytes, totalBytes) {
      const now = clock();
      last ??= now - (terminal ? interval : 0); // a terminal shows the first event at once
      if (now - last < interval) return;
      last = now;
      const total = totalBytes === null ? '' : ` / ${mib(totalBytes)}`;
      const pct = totalBytes ? ` (${Math.floor((doneBytes / totalBytes) * 100)}%)` : '';
      const text = `cachevol: copying ${mib(doneBytes)}${total}${pct}`;
      if (terminal) {
        shown = true;
        io.stderr.write(`\r\u001b[2K${text}`);
      } else io.stderr.write(`${text}\n`);
    },
    clear() {
      if (shown) io.stderr.write('\r\u001b[2K');
      shown = false;
      last = null;
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Formats a duration in milliseconds for humans: `12 ms`, `1.52 s`.
 *
 * @param ms - milliseconds
 */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
