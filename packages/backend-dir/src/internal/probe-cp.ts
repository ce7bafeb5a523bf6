import { spawnSync } from 'node:child_process';
import { CP_VERSION_COMMAND } from './copy-command.js';

let cached: string | null | undefined;

/**
 * Why this system's `cp` cannot make the backend's copies, or `null` when it can. Off macOS the
 * copies need GNU coreutils' `cp` (for `-T` and `--reflink`); BusyBox's or another `cp` is
 * refused with the package to install. Checked once per process (`cp --version`, a few ms).
 */
export function cpUnavailable(): string | null {
  if (process.platform === 'darwin') return null;
  if (cached !== undefined) return cached;
  const { command, args } = CP_VERSION_COMMAND;
  const result = spawnSync(command, args, {
    shell: false,
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
  });
  if (result.error) {
    cached = `\`cp\` cannot be run (${result.error.message}): install GNU coreutils`;
  } else if (result.status !== 0 || !/GNU coreutils/.test(result.stdout)) {
    cached =
      '`cp` is not GNU coreutils (`cp --version` does not say so; BusyBox, for one, lacks `--reflink=never` and `-T`): install coreutils (e.g. `apk add coreutils`)';
  } else {
    cached = null;
  }
  return cached;
}
