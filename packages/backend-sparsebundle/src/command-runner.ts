import { type CommandResult as KitCommandResult, spawnCommand } from '@cachevol/core/backend-kit';

/**
 * How a command ended: its exit code (0 on success, `null` when it was killed or timed out),
 * standard output and standard error, as the backend kit's runner reports them.
 */
export type CommandResult = Pick<KitCommandResult, 'exitCode' | 'stdout' | 'stderr'>;

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

/** Options for {@link createProcessRunner}. */
export interface ProcessRunnerOptions {
  /**
   * Kill a command that runs longer than this many milliseconds.
   * @defaultValue 600000 (10 minutes)
   */
  timeoutMs?: number;
}

/**
 * The default {@link CommandRunner}: the backend kit's `spawnCommand` (argument arrays, never a
 * shell, no standard input), the programs of {@link MACOS_TOOL_PATHS}, and `LC_ALL=C`, `LANG=C`
 * so that messages stay in English. It rejects only when a program cannot be started.
 *
 * @param options - the timeout
 *
 * @example
 * ```ts
 * const run = createProcessRunner({ timeoutMs: 60_000 })
 * const { stdout } = await run('hdiutil', ['info', '-plist'])
 * ```
 */
export function createProcessRunner(options: ProcessRunnerOptions = {}): CommandRunner {
  const timeoutMs = options.timeoutMs ?? 600_000;
  return async (command, args) => {
    const file = MACOS_TOOL_PATHS[command] ?? command;
    const { exitCode, stdout, stderr } = await spawnCommand(file, args, { timeoutMs, env: { LANG: 'C' } });
    return { exitCode, stdout, stderr };
  };
}
