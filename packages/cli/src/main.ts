import { isCacheVolumeError } from '@cachevol/core';
import packageJson from '../package.json' with { type: 'json' };
import { COMMANDS } from './internal/commands/index.js';
import { commandHelp, mainHelp } from './internal/help.js';
import { closeEngines } from './internal/open.js';
import { type CliIo, formatError } from './internal/output.js';
import { parseCommandLine } from './internal/parse.js';
import { UsageError } from './internal/usage-error.js';

/**
 * The exit codes of `cachevol`. `run` and `pipeline run` exit with their command's code instead
 * (128+N when signal N ended it, 127 when it was not found).
 */
export const EXIT_CODES = Object.freeze({
  /** Success. */
  OK: 0,
  /** Any failure other than bad input (backend, store, not found, conflict). */
  FAILURE: 1,
  /** A command line that cannot work: unknown command or flag, missing or invalid argument. */
  USAGE: 2,
});

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
    return await invocation.spec.run(invocation.args, full);
  } catch (error) {
    const { line, json: payload } = formatError(error);
    full.stderr.write(json ? `${JSON.stringify(payload)}\n` : `${line}\n`);
    if (error instanceof UsageError || isCacheVolumeError(error, 'INVALID_ARGUMENT')) return EXIT_CODES.USAGE;
    return EXIT_CODES.FAILURE;
  } finally {
    await closeEngines();
  }
}
