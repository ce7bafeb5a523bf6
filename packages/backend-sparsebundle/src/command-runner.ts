import { execa } from 'execa';

/** How a command ended. */
export interface CommandResult {
  /** Its exit code (0 on success), or `null` when it was killed or timed out. */
  exitCode: number | null;
  /** What it printed on standard output. */
  stdout: string;
  /** What it printed on standard error. */
  stderr: string;
}

/**
 * Runs one program with an argument array, never through a shell. It resolves for any exit code
 * (the backend reads the code and stderr) and rejects only when the program could not be started
 * (for example with `code: 'ENOENT'` when it is missing).
 *
 * The sparsebundle backend calls it with the names `hdiutil`, `diskutil`, `cp` and `sync`. Tests
 * replace it with a simulator; see `createSparseBundleBackend`'s `runner` option.
 *
 * @param command - `hdiutil`, `diskutil`, `cp` or `sync`
 * @param args - the arguments
 */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

/**
 * Where the default runner finds each program: the copies that ship with macOS, so a GNU `cp`
 * earlier on `PATH` (Homebrew coreutils) can never stand in for BSD `cp -c`.
 */
export const MACOS_TOOL_PATHS: Readonly<Record<string, string>> = Object.freeze({
  hdiutil: '/usr/bin/hdiutil',
  diskutil: '/usr/sbin/diskutil',
  cp: '/bin/cp',
  sync: '/bin/sync',
});

/** Options for {@link createExecaRunner}. */
export interface ExecaRunnerOptions {
  /**
   * Kill a command that runs longer than this many milliseconds.
   * @defaultValue 600000 (10 minutes)
   */
  timeoutMs?: number;
}

/**
 * The default {@link CommandRunner}: execa with argument arrays, the programs of
 * {@link MACOS_TOOL_PATHS}, `LC_ALL=C` so that messages stay in English, and no standard input.
 *
 * @param options - the timeout
 *
 * @example
 * ```ts
 * const run = createExecaRunner({ timeoutMs: 60_000 })
 * const { stdout } = await run('hdiutil', ['info', '-plist'])
 * ```
 */
export function createExecaRunner(options: ExecaRunnerOptions = {}): CommandRunner {
  const timeout = options.timeoutMs ?? 600_000;
  return async (command, args) => {
    const file = MACOS_TOOL_PATHS[command] ?? command;
    const result = await execa(file, [...args], {
      reject: false,
      stdin: 'ignore',
      timeout,
      env: { LC_ALL: 'C', LANG: 'C' },
    });
    if (result.exitCode === undefined && !result.timedOut && !result.isTerminated) {
      throw result.cause ?? new Error(`could not start ${file}`);
    }
    return {
      exitCode: result.exitCode ?? null,
      stdout: String(result.stdout ?? ''),
      stderr: result.timedOut
        ? `timed out after ${timeout} ms. ${String(result.stderr ?? '')}`
        : String(result.stderr ?? ''),
    };
  };
}
