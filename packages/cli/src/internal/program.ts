import { spawn } from 'node:child_process';
import { signalGroup } from './process-group.js';

/** How a program ended: its exit code, the signal that ended it, or why it could not start. */
export type ProgramEnd =
  | { exitCode: number; signal?: undefined; startError?: undefined }
  | { exitCode?: undefined; signal: NodeJS.Signals; startError?: undefined }
  | { exitCode?: undefined; signal?: undefined; startError: NodeJS.ErrnoException };

/** A started program: signal its process group, or wait for it to end. */
export interface Program {
  /** Its process group id (its pid: it leads a group of its own), or null when it did not start. */
  readonly pgid: number | null;
  /** Sends a signal to its whole process group (forwarded from cachevol's own). */
  kill(signal: NodeJS.Signals): unknown;
  /** Settles once the program has ended or failed to start; never rejects. */
  ended: Promise<ProgramEnd>;
}

/**
 * Starts a program with inherited stdio and no shell, as the leader of a new process group
 * (and session: `detached`), so that everything it starts can be signalled together and what
 * it leaves behind can be found. It has no controlling terminal of its own: a terminal's
 * Ctrl-C reaches cachevol, which forwards it to the group.
 *
 * node:child_process, not execa: this is all it needs, and execa's module graph would double
 * the command's start-up.
 *
 * @param file - the program, looked up in PATH
 * @param args - its arguments
 * @param cwd - its working directory
 * @param env - variables added to cachevol's environment
 */
export function startProgram(
  file: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
): Program {
  const child = spawn(file, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, ...env },
    detached: true,
  });
  const pgid = child.pid ?? null;
  const ended = new Promise<ProgramEnd>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ startError: error }));
    child.once('exit', (code, signal) =>
      resolve(code !== null ? { exitCode: code } : { signal: signal as NodeJS.Signals }),
    );
  });
  return { pgid, kill: (signal) => (pgid === null ? false : signalGroup(pgid, signal)), ended };
}
