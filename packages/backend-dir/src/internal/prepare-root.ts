import { accessSync, constants, lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import { errnoCode } from '@cachevol/core/backend-kit';
import { AREAS } from './layout.js';

function unavailable(root: string, problem: string, error?: unknown): never {
  throw new CacheVolumeError('BACKEND_UNAVAILABLE', `The dir backend cannot use root ${root}: ${problem}.`, {
    cause: error,
    details: { root, errno: errnoCode(error) },
  });
}

/**
 * Makes sure a backend root is a writable directory holding its areas (creating what is
 * missing, like `mkdir -p`), and returns its canonical absolute path. Every area must be a real
 * directory: one that is a symlink would send versions and forks (and their deletion) wherever
 * it points.
 *
 * @param root - the root as configured (relative paths resolve against the current directory)
 * @throws `BACKEND_UNAVAILABLE` when the root is a file, cannot be created, or is not writable,
 *   or when an area is a symlink or not a directory
 */
export function prepareRoot(root: string): string {
  const absolute = resolve(root);
  try {
    mkdirSync(absolute, { recursive: true });
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST' || code === 'ENOTDIR')
      unavailable(absolute, 'it (or a parent) exists and is not a directory; choose a directory path', error);
    unavailable(
      absolute,
      `it cannot be created (${code ?? String(error)}); create it, or choose a path this process may write`,
      error,
    );
  }
  if (!statSync(absolute).isDirectory())
    unavailable(absolute, 'it is not a directory; choose a directory path');
  const real = realpathSync(absolute);
  for (const area of AREAS) {
    const dir = join(real, area);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') {
        unavailable(real, `${dir} exists and is not a directory; move it away or choose another root`, error);
      }
      unavailable(
        real,
        `${dir} is not a writable directory (${errnoCode(error) ?? String(error)}); fix its permissions or choose another root`,
        error,
      );
    }
    if (!lstatSync(dir).isDirectory()) {
      unavailable(
        real,
        `${dir} is a symlink, not a directory: the backend never works through links; replace it with a directory or choose another root`,
      );
    }
  }
  return real;
}
