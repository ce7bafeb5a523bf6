/**
 * Runs a system tool in tests: an argument array (never a shell), the C locale, stdout back.
 *
 * Test files import this relatively; it is part of no published package.
 */
import { execFile, spawn } from 'node:child_process';

/** A tool that exited non-zero (or could not start): the command line, its exit code and stderr. */
export class ToolFailed extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(`${[command, ...args].join(' ')} failed (${exitCode}): ${stderr.trim()}`);
    this.name = 'ToolFailed';
  }
}

/**
 * Runs `command` with `args` and returns its stdout, without the final newline.
 *
 * @param command - the program, found on PATH
 * @param args - its arguments
 * @throws {@link ToolFailed} when it exits non-zero or cannot start
 */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8', maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new ToolFailed(command, args, error.code ?? null, stderr || error.message));
        else resolve(stdout.replace(/\n$/, ''));
      },
    );
  });
}

/** What a process did: its exit code (null when killed by a signal), stdout and stderr. */
export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` with `args` (never through a shell) in `cwd` with exactly `env`, and resolves
 * with what it did, whatever its exit code; rejects only when it cannot start.
 */
export function runToExit(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv },
): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
