/**
 * A command line that cannot work: an unknown command or flag, a missing argument, a value of
 * the wrong form. Exits with code 2 and points at the command's `--help`.
 */
export class UsageError extends Error {
  /**
   * @param message - what is wrong, in one line
   * @param command - the command whose help to point at (`run`, `pipeline plan`), if known
   */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
