import { spawn } from 'node:child_process';

/** How a program ended: its exit code, the signal that ended it, or why it could not start. */
export type ProgramEnd =
  | { exitCode: number; signal?: undefined; startError?: undefined }
  | { exitCode?: undefined; signal: NodeJS.Signals; startError?: undefined }
  | { exitCode?: undefined; signal?: undefined; startError: NodeJS.ErrnoException };

/** A started program: kill it, or wait for it to end. */
export interface Program {
  /** Sends a signal (forwarded from cachevol's own). */
  kill(signal: NodeJS.Signals): unknown;
  /** Settles once the program has ended or failed to start; never rejects. */
  ended: Promise<ProgramEnd>;
}

/**
 * Starts a program with inherited stdio and no shell (node:child_process, which `run` uses
 * instead of execa: this is all it needs, and execa's module graph would double the command's
 * start-up).
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
  const child = spawn(file, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
  const ended = new Promise<ProgramEnd>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ startError: error }));
    child.once('exit', (code, signal) =>
      resolve(code !== null ? { exitCode: code } : { signal: signal as NodeJS.Signals }),
    );
  });
  return { kill: (signal) => child.kill(signal), ended };
}
