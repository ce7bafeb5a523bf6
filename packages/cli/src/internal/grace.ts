import type { CliIo } from './output.js';
import type { ParsedArgs } from './spec.js';
import { UsageError } from './usage-error.js';

/** How long a job's processes have after SIGTERM before SIGKILL, unless `--grace` says otherwise. */
export const DEFAULT_GRACE_MS = 10_000;

/** The longest grace accepted (a larger one is more likely milliseconds written as seconds). */
export const MAX_GRACE_MS = 3_600_000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Parses a grace period: seconds (`10`, `2.5`), or a number with a unit (`500ms`, `10s`, `1m`).
 *
 * @param text - the grace period
 * @returns milliseconds, or `NaN` when malformed or above {@link MAX_GRACE_MS}
 */
export function parseGrace(text: string): number {
  const match = /^([0-9]{1,7}(?:\.[0-9]{1,3})?)(ms|s|m)?$/.exec(text.trim());
  if (!match) return Number.NaN;
  const ms = Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000));
  return ms <= MAX_GRACE_MS ? ms : Number.NaN;
}

/**
 * Reads the grace period of a job's processes: `--grace`, else `CACHEVOL_GRACE`, else
 * {@link DEFAULT_GRACE_MS}.
 *
 * @param args - the parsed command line
 * @param io - the environment
 * @param command - the command, for the error hint
 * @throws {@link UsageError} naming the flag or variable when the value is malformed
 */
export function readGrace(args: ParsedArgs, io: CliIo, command: string): number {
  const flagValue = args.values.grace;
  const raw = typeof flagValue === 'string' ? flagValue : io.env.CACHEVOL_GRACE || undefined;
  if (raw === undefined) return DEFAULT_GRACE_MS;
  const ms = parseGrace(raw);
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `${typeof flagValue === 'string' ? '--grace' : 'CACHEVOL_GRACE'}: invalid grace ${JSON.stringify(raw)}; write seconds (10, 2.5) or a unit (500ms, 10s, 1m), at most 1h`,
      command,
    );
  }
  return ms;
}
