import { type CommandResult, commandFailure, spawnCommand } from '../backend-kit/command.js';

/** How git runs: never asks for credentials on a terminal, never reads a pager. */
const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_ASKPASS: 'true' };

/** Runs git and tells how it ended (never throws for a non-zero exit). */
export type GitRunner = (args: readonly string[]) => Promise<CommandResult>;

/**
 * A {@link GitRunner} for one git program.
 *
 * @param program - the git executable
 */
export function gitRunner(program: string): GitRunner {
  return (args) =>
    spawnCommand(program, args, {
      env: GIT_ENV,
      installHint: 'install git (`apt-get install git`)',
      stdout: 'pipe',
    });
}

/**
 * Runs git and returns its trimmed standard output.
 *
 * @param git - the runner
 * @param args - its arguments
 * @throws `CommandFailedError` when it exits non-zero
 */
export async function gitOutput(git: GitRunner, args: readonly string[]): Promise<string> {
  const result = await git(args);
  if (result.exitCode !== 0) throw commandFailure('git', args, result);
  return result.stdout.trim();
}
