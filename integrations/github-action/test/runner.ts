import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runToExit } from '../../../test-support/run.js';

/** The action's directory. */
export const ACTION = fileURLToPath(new URL('../', import.meta.url));

/**
 * Reads a file that the step appended file commands to, as the runner does: `name<<DELIMITER`
 * blocks (the value is every line up to the one that is exactly DELIMITER) and `name=value`
 * lines.
 *
 * @param text - the file's contents
 */
export function parseFileCommands(text: string): Record<string, string> {
  const found: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const heredoc = line.indexOf('<<');
    const equals = line.indexOf('=');
    if (heredoc > 0 && (equals < 0 || heredoc < equals)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
      if (i >= lines.length) throw new Error(`no closing delimiter ${delimiter} for ${name}`);
      found[name] = value.join('\n');
    } else if (equals > 0) found[line.slice(0, equals)] = line.slice(equals + 1);
    else throw new Error(`not a file command: ${JSON.stringify(line)}`);
  }
  return found;
}

interface ActionYml {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; main: string; post: string; 'post-if': string };
}

/** action.yml, parsed. */
export function actionYml(): ActionYml {
  return parse(readFileSync(join(ACTION, 'action.yml'), 'utf8')) as ActionYml;
}

/** One step of a job, as the runner starts it. */
export interface StepOptions {
  /** The `with:` inputs the workflow gives. */
  with: Record<string, string>;
  /** `job.status` when the step runs (`success`, `failure`, `cancelled`). */
  jobStatus: string;
  /** The state the main step saved (for the post step). */
  state?: Record<string, string>;
  /** The runner's own variables and the job's (`GITHUB_WORKSPACE`, `CACHEVOL_ROOT`, `PATH`...). */
  env: Record<string, string>;
  /** A directory for the step's command files. */
  temp: string;
}

/** What a step did. */
export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  env: Record<string, string>;
}

/**
 * Runs `node dist/main.cjs` or `node dist/post.cjs` with the environment a runner gives a
 * JavaScript action's step: each input (given, or its default from action.yml, where
 * `${{ job.status }}` is the job's status at that moment) as `INPUT_<NAME>`, the saved state as
 * `STATE_<name>`, fresh `GITHUB_OUTPUT`, `GITHUB_STATE` and `GITHUB_ENV` files, read back after
 * the step.
 *
 * @param stage - `main` or `post`
 * @param options - the step's inputs, state and environment
 */
export async function runStep(stage: 'main' | 'post', options: StepOptions): Promise<StepResult> {
  const yml = actionYml();
  const env: Record<string, string> = { ...options.env, GITHUB_ACTIONS: 'true' };
  for (const [name, spec] of Object.entries(yml.inputs)) {
    const value = options.with[name] ?? spec.default ?? '';
    const evaluated = value.replace(/\$\{\{\s*job\.status\s*\}\}/g, options.jobStatus);
    if (evaluated.includes('${{')) throw new Error(`the emulated runner evaluates only job.status: ${value}`);
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = evaluated;
  }
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value;
  const files = { GITHUB_OUTPUT: 'set_output', GITHUB_STATE: 'save_state', GITHUB_ENV: 'set_env' };
  for (const [variable, prefix] of Object.entries(files)) {
    const path = join(options.temp, `${prefix}_${randomUUID()}`);
    writeFileSync(path, '');
    env[variable] = path;
  }
  const script = join(ACTION, stage === 'main' ? yml.runs.main : yml.runs.post);
  const { code, stdout, stderr } = await runToExit(process.execPath, [script], {
    cwd: env.GITHUB_WORKSPACE,
    env,
  });
  const read = (variable: keyof typeof files) =>
    parseFileCommands(readFileSync(env[variable] as string, 'utf8'));
  return {
    code,
    stdout,
    stderr,
    outputs: read('GITHUB_OUTPUT'),
    state: read('GITHUB_STATE'),
    env: read('GITHUB_ENV'),
  };
}
