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
