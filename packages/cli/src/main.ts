import packageJson from '../package.json' with { type: 'json' };
import { COMMANDS } from './internal/commands/index.js';
import { closeEngines } from './internal/engines.js';
import { EXIT_CODES } from './internal/exit-codes.js';
import { commandHelp, mainHelp } from './internal/help.js';
import type { CliIo } from './internal/output.js';
import { parseCommandLine } from './internal/parse.js';

export { EXIT_CODES } from './internal/exit-codes.js';

// This module and what it imports statically are all that `cachevol --help` and `--version`
// load: the command line's parser and help, no @cachevol/core, zod or execa. A command's code
// comes with `spec.load()`, and the error report only once something failed.

/** Where {@link main} reads and writes; defaults to the process's. */
export type MainIo = Partial<CliIo>;

/**
 * Runs the `cachevol` command line in this process and returns its exit code; never throws.
 * Errors are printed as one line on stderr, `cachevol: CODE: message` (as JSON with `--json`).
 *
 * @param argv - the arguments after the program name, e.g. `['ls', '--json']`
 * @param io - streams, environment and working directory (default: the process's)
 * @returns the exit code (see {@link EXIT_CODES})
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2))
 * ```
 */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const json = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).includes('--json');
  try {
    const invocation = parseCommandLine(argv, COMMANDS);
    if (invocation.kind === 'version') {
      full.stdout.write(`${packageJson.version}\n`);
      return EXIT_CODES.OK;
    }
    if (invocation.kind === 'help') {
      full.stdout.write(
        invocation.command ? commandHelp(invocation.command) : mainHelp(COMMANDS, invocation.group),
      );
      return EXIT_CODES.OK;
    }
    const run = await invocation.spec.load();
    return await run(invocation.args, full);
  } catch (error) {
    const { reportFailure } = await import('./internal/failure.js');
    return reportFailure(error, full, json);
  } finally {
    await closeEngines();
  }
}
