import { constants } from 'node:os';
import { DEFAULT_GRACE_MS } from './grace.js';
import { formatMs, type Output } from './output.js';
import { endGroup, signalGroup } from './process-group.js';
import { startProgram } from './program.js';

/** The program a job runs: an argument vector, never a shell line of ours. */
export interface JobCommand {
  /** The program. */
  file: string;
  /** Its arguments. */
  args: string[];
}

/** The signals cachevol forwards to a job's processes (and honours with exit code 128+N). */
export const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * How long processes left behind by a command that ended have after SIGTERM, at most (the
 * grace, when shorter): the commit waits for them.
 */
export const LEFTOVER_GRACE_MS = 2_000;

/**
 * The exit code that reports signal N: 128+N.
 *
 * @param signal - the signal
 */
export function signalCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * Watches SIGINT, SIGTERM and SIGHUP for the whole job. The first signal received is recorded
 * (it decides the exit code, 128+N); each one is forwarded to the process groups of the job's
 * programs, and once the grace after the first has run out, whatever is left of those groups
 * is sent SIGKILL. While installed, the signals do not end cachevol itself, so it can finish
 * its forks first.
 */
export class SignalWatch {
  /** The first signal received, or null. */
  received: NodeJS.Signals | null = null;
  /** The process groups of the job's programs that may still have processes. */
  readonly groups = new Set<number>();
  /** How long the groups have after the first signal before SIGKILL (ms). */
  readonly graceMs: number;
  /** Set when the grace ran out and a group still existed, so it was sent SIGKILL. */
  killedAfterGrace = false;
  #timer: NodeJS.Timeout | null = null;
  readonly #off: (() => void)[];

  /**
   * Installs the handlers.
   *
   * @param graceMs - the grace before SIGKILL, in milliseconds
   */
  constructor(graceMs: number = DEFAULT_GRACE_MS) {
    this.graceMs = graceMs;
    this.#off = FORWARDED.map((signal) => {
      const handler = () => {
        this.received ??= signal;
        for (const pgid of this.groups) signalGroup(pgid, signal);
        if (this.groups.size > 0) this.#timer ??= setTimeout(() => this.#killGroups(), graceMs);
      };
      process.on(signal, handler);
      return () => process.off(signal, handler);
    });
  }

  #killGroups(): void {
    for (const pgid of this.groups) if (signalGroup(pgid, 'SIGKILL')) this.killedAfterGrace = true;
  }

  /** Forgets a group that has ended, and stops the grace when none is left. */
  forget(pgid: number): void {
    this.groups.delete(pgid);
    if (this.groups.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /** Removes the handlers and stops the grace. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const off of this.#off) off();
  }
}

/**
 * Runs programs one after the other with inherited stdio and no shell, each in a process group
 * of its own, stopping at the first that fails or when a signal arrives. Then, before it
 * returns (and so before anything is committed), it ends what the programs left behind in their
 * groups: SIGTERM, up to {@link LEFTOVER_GRACE_MS} (or the grace, when shorter), SIGKILL, with
 * one warning line saying how many there were. A program that started a daemon of its own
 * (`setsid`, a double fork into a new session) is out of reach: its group is another one.
 *
 * @param commands - programs and arguments
 * @param cwd - their working directory
 * @param out - where to report a missing program and what was killed
 * @param watch - the job's signal watch
 * @param env - extra environment variables
 * @returns the exit code to pass on (128+N after signal N; 127 for a missing program)
 */
export async function runPrograms(
  commands: readonly JobCommand[],
  cwd: string,
  out: Output,
  watch: SignalWatch,
  env: Record<string, string> = {},
): Promise<number> {
  let code = 0;
  for (const command of commands) {
    if (watch.received) break;
    const child = startProgram(command.file, command.args, cwd, env);
    if (child.pgid !== null) watch.groups.add(child.pgid);
    const result = await child.ended;
    if (watch.received) break;
    if (result.exitCode !== undefined) code = result.exitCode;
    else if (result.signal) code = signalCode(result.signal);
    else {
      const errno = result.startError.code;
      out.warn(
        `cannot run ${command.file}: ${errno === 'ENOENT' ? 'command not found' : (errno ?? result.startError.message)}`,
      );
      code = errno === 'ENOENT' ? 127 : 126;
    }
    if (code !== 0) break;
  }
  if (watch.killedAfterGrace) {
    out.warn(
      `killed the command's process group (SIGKILL) after the grace of ${formatMs(watch.graceMs)}: it had not ended on ${watch.received}`,
    );
  }
  await endLeftovers(watch, out);
  await signalsDelivered();
  return watch.received ? signalCode(watch.received) : code;
}

/**
 * Lets the handlers of signals that the process already received run. Node reads them from a
 * pipe in the event loop's poll phase; two turns of the loop include one whole poll phase, so a
 * signal that a process left behind sent just before it ended is seen before anything is
 * committed.
 */
async function signalsDelivered(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Ends what is left in the job's process groups (see {@link runPrograms}) and reports it.
 *
 * @param watch - the job's signal watch, which holds the groups
 * @param out - where to report
 */
async function endLeftovers(watch: SignalWatch, out: Output): Promise<void> {
  let found = 0;
  let uncounted = false;
  let forced = false;
  for (const pgid of [...watch.groups]) {
    const end = await endGroup(pgid, Math.min(watch.graceMs, LEFTOVER_GRACE_MS));
    watch.forget(pgid);
    if (!end.any) continue;
    if (end.found === null) uncounted = true;
    else found += end.found;
    forced ||= end.forced;
  }
  const how = forced ? ' (SIGTERM, then SIGKILL: some ignored SIGTERM)' : ' (SIGTERM)';
  if (found > 0) {
    out.warn(
      `killed ${found} ${found === 1 ? 'process' : 'processes'} the command left behind in its process group${how}, so that nothing writes into the cache any more`,
    );
  } else if (uncounted) {
    out.warn(`killed the processes the command left behind in its process group${how}`);
  }
}
