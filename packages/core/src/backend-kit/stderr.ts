import type { ErrorCode } from '../errors.js';

/**
 * One rule that classifies a failed command by what it wrote to standard error (commands run
 * in the C locale, so the texts are English).
 */
export interface StderrRule {
  /** Matches the standard error of the failures this rule is about. */
  pattern: RegExp;
  /** The code the failure is reported with, e.g. `BACKEND_UNAVAILABLE` or `NOT_FOUND`. */
  code: ErrorCode;
  /** What to do about it, appended to the error's message. */
  hint?: string;
}

/** The system error texts (`strerror`) that tools print, with the errno each stands for. */
const ERRNO_TEXTS: readonly (readonly [RegExp, string])[] = [
  [/No space left on device/, 'ENOSPC'],
  [/Disk quota exceeded/, 'EDQUOT'],
  [/Read-only file system/, 'EROFS'],
  [/Permission denied/, 'EACCES'],
  [/Operation not permitted/, 'EPERM'],
  [/Device or resource busy|Resource busy/, 'EBUSY'],
  [/No such file or directory/, 'ENOENT'],
];

/**
 * The errno a failed tool reports in its standard error through the system's message for it
 * (`cp: ...: No space left on device` is `ENOSPC`), or `undefined`. The first match counts, in
 * this order: `ENOSPC`, `EDQUOT`, `EROFS`, `EACCES`, `EPERM`, `EBUSY`, `ENOENT`.
 *
 * @param stderr - the tool's standard error, in the C locale
 */
export function errnoFromStderr(stderr: string): string | undefined {
  return ERRNO_TEXTS.find(([pattern]) => pattern.test(stderr))?.[1];
}

/**
 * The first rule whose pattern matches `stderr`, or `undefined`.
 *
 * @param stderr - a failed command's standard error
 * @param rules - the rules, most specific first
 */
export function classifyStderr(stderr: string, rules: readonly StderrRule[]): StderrRule | undefined {
  return rules.find((rule) => rule.pattern.test(stderr));
}
