/**
 * The GitHub Actions runner's protocol for a JavaScript action, as `@actions/core` speaks it:
 * inputs arrive as `INPUT_<NAME>` environment variables; outputs, saved state and exported
 * variables are appended to the files named by `GITHUB_OUTPUT`, `GITHUB_STATE` and `GITHUB_ENV`
 * as `name<<DELIMITER` / value / `DELIMITER` blocks; the post step gets the saved state back as
 * `STATE_<name>` variables; `::warning::` and `::error::` lines on stdout are annotations.
 *
 * Written here rather than imported from `@actions/core`, whose HTTP client (for OIDC tokens)
 * and its dependencies would make up nearly all of the committed bundle for these few functions.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';

/** The environment the runner gives the step. */
export type Env = Record<string, string | undefined>;

/**
 * An input as the runner passes it: `INPUT_` + the name upper-cased, spaces as `_` (hyphens
 * stay), trimmed; `''` when it is not set.
 *
 * @param env - the step's environment
 * @param name - the input's name in action.yml
 */
export function getInput(env: Env, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/**
 * A list input: one value per line, blank lines dropped, each line trimmed.
 *
 * @param env - the step's environment
 * @param name - the input's name
 */
export function getMultilineInput(env: Env, name: string): string[] {
  return getInput(env, name)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * A boolean input, in YAML 1.2's core schema words (`true`, `True`, `TRUE`, `false`, ...).
 *
 * @param env - the step's environment
 * @param name - the input's name
 * @param fallback - the value when the input is not set
 * @throws TypeError for any other word, naming the input
 */
export function getBooleanInput(env: Env, name: string, fallback = false): boolean {
  const value = getInput(env, name);
  if (value === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new TypeError(`Input "${name}" must be true or false, got ${JSON.stringify(value)}.`);
}

/**
 * One `name<<DELIMITER` block, with a delimiter that appears nowhere in the value.
 *
 * @param name - the output, state or variable name
 * @param value - its value (any text, newlines included)
 */
export function fileCommand(name: string, value: string): string {
  let delimiter = `ghadelimiter_${randomUUID()}`;
  while (name.includes(delimiter) || value.includes(delimiter)) delimiter = `ghadelimiter_${randomUUID()}`;
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

function append(env: Env, variable: string, name: string, value: string): void {
  const file = env[variable];
  if (!file) throw new Error(`${variable} is not set: this must run as a step of a GitHub Actions job.`);
  appendFileSync(file, fileCommand(name, value), 'utf8');
}

/**
 * Sets a step output (`steps.<id>.outputs.<name>`).
 *
 * @param env - the step's environment
 * @param name - the output's name
 * @param value - its value
 */
export function setOutput(env: Env, name: string, value: string): void {
  append(env, 'GITHUB_OUTPUT', name, value);
}

/**
 * Saves a value for the post step, which reads it with {@link getState}.
 *
 * @param env - the step's environment
 * @param name - the state's name
 * @param value - its value
 */
export function saveState(env: Env, name: string, value: string): void {
  append(env, 'GITHUB_STATE', name, value);
}

/**
 * A value the main step saved ({@link saveState}); `''` when there is none.
 *
 * @param env - the post step's environment
 * @param name - the state's name
 */
export function getState(env: Env, name: string): string {
  return env[`STATE_${name}`] ?? '';
}

/**
 * Sets an environment variable for the job's later steps.
 *
 * @param env - the step's environment
 * @param name - the variable
 * @param value - its value
 */
export function exportVariable(env: Env, name: string, value: string): void {
  append(env, 'GITHUB_ENV', name, value);
}

/**
 * A workflow command's message, escaped as the runner reads it back (`%`, CR, LF).
 *
 * @param message - any text
 */
export function escapeData(message: string): string {
  return message.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/**
 * The annotation line for a warning or an error.
 *
 * @param kind - `warning` or `error`
 * @param message - the message
 */
export function annotation(kind: 'warning' | 'error', message: string): string {
  return `::${kind}::${escapeData(message)}${EOL}`;
}
