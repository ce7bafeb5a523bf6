import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
}

/**
 * Runs one of the plugin's hooks with bash, in the checkout, with exactly `env`.
 *
 * @param hook - `pre-command`, `post-command` or `pre-exit`
 * @param env - the job's environment
 */
export function runHook(hook: string, env: Record<string, string>): Promise<HookResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(PLUGIN, 'hooks', hook)], {
      cwd: env.BUILDKITE_BUILD_CHECKOUT_PATH,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
