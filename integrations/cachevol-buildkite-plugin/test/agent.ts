import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToExit } from '../../../test-support/run.js';

/** The plugin's directory, as the agent checks it out. */
export const PLUGIN = fileURLToPath(new URL('../', import.meta.url));

/** A configuration key as the agent spells it in a variable name: upper case, `-` and spaces as `_`. */
function envKey(key: string): string {
  return key.toUpperCase().replace(/-|\s/g, '_');
}

function walk(prefix: string, value: unknown, into: Record<string, string>): void {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
    into[prefix] = String(value);
  else if (Array.isArray(value)) for (const [i, item] of value.entries()) walk(`${prefix}_${i}`, item, into);
  else if (value !== null && typeof value === 'object')
    for (const [key, inner] of Object.entries(value)) walk(`${prefix}_${envKey(key)}`, inner, into);
  else throw new Error(`the agent refuses a configuration value ${String(value)}`);
}

/**
 * The variables the Buildkite agent sets for a plugin's hooks from its configuration (a hash,
 * as the agent requires): `BUILDKITE_PLUGIN_NAME`, `BUILDKITE_PLUGIN_CONFIGURATION` (JSON), and
 * `BUILDKITE_PLUGIN_<NAME>_<KEY>` for each value, lists as `_0`, `_1`, maps in lists as
 * `_0_<SUBKEY>`, as the agent's `ConfigurationToEnvironment` does.
 *
 * @param name - the plugin's name as the agent derives it from its location (`cachevol`)
 * @param configuration - the plugin's configuration in the step
 */
export function pluginEnv(name: string, configuration: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {
    BUILDKITE_PLUGIN_NAME: envKey(name),
    BUILDKITE_PLUGIN_CONFIGURATION: JSON.stringify(configuration),
  };
  for (const [key, value] of Object.entries(configuration))
    walk(`BUILDKITE_PLUGIN_${envKey(name)}_${envKey(key)}`, value, env);
  return env;
}

/** How a hook ended. */
export interface HookResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The environment after the hook: the agent passes what a hook exports to later hooks and the command. */
  env: Record<string, string>;
}

/**
 * Runs one of the plugin's hooks, in the checkout, with exactly `env`, as the agent does: bash
 * sources the hook in a wrapper that then writes out the environment, so that what the hook
 * exports reaches the hooks and the command after it.
 *
 * @param hook - `pre-command`, `post-command` or `pre-exit`
 * @param env - the job's environment
 * @param envFile - where the wrapper writes the environment after the hook
 */
export function runHook(hook: string, env: Record<string, string>, envFile: string): Promise<HookResult> {
  // The agent's posixShellWrapper: source the hook, keep its status, dump the environment.
  const wrapper = '. "$1"; status=$?; env -0 > "$2"; exit "$status"';
  rmSync(envFile, { force: true });
  const hookPath = join(PLUGIN, 'hooks', hook);
  return runToExit('bash', ['-c', wrapper, 'hook-wrapper', hookPath, envFile], {
    cwd: env.BUILDKITE_BUILD_CHECKOUT_PATH,
    env,
  }).then(({ code, stdout, stderr }) => {
    const after: Record<string, string> = {};
    if (code === 0 && existsSync(envFile))
      for (const entry of readFileSync(envFile, 'utf8').split('\0').filter(Boolean)) {
        const at = entry.indexOf('=');
        after[entry.slice(0, at)] = entry.slice(at + 1);
      }
    return { code, stdout, stderr, env: after };
  });
}
