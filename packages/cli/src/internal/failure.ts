import { isCacheVolumeError } from '@cachevol/core';
import { EXIT_CODES } from './exit-codes.js';
import { type CliIo, formatError } from './output.js';
import { UsageError } from './usage-error.js';

/**
 * Prints a failed command's error on stderr, as one line (`cachevol: CODE: message`) or as
 * JSON, and tells its exit code: {@link EXIT_CODES}.USAGE for bad input, FAILURE otherwise.
 *
 * @param error - anything the command threw
 * @param io - where to print
 * @param json - print the error as JSON (`--json` was given)
 * @returns the exit code
 */
export function reportFailure(error: unknown, io: CliIo, json: boolean): number {
  const { line, json: payload } = formatError(error);
  io.stderr.write(json ? `${JSON.stringify(payload)}\n` : `${line}\n`);
  if (error instanceof UsageError || isCacheVolumeError(error, 'INVALID_ARGUMENT')) return EXIT_CODES.USAGE;
  return EXIT_CODES.FAILURE;
}
