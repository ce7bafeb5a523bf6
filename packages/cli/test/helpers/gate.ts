import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe } from 'vitest';

/**
 * Test gates for suites that need real tools: outside CI a suite whose tools are missing is
 * skipped with the reason in its title; under `CI=true` it fails instead, so nothing is skipped
 * silently where it must run.
 */

/**
 * Tells whether a program is on PATH (or in sbin).
 *
 * @param tool - the program's name
 */
export function onPath(tool: string): boolean {
  return [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Why a suite cannot run here (Linux, root and every tool), or `undefined` when it can.
 *
 * @param tools - the programs it runs
 * @param install - what to install to get them, for the message
 */
export function missing(tools: string[], install: string): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (mount, losetup)';
  const absent = tools.find((tool) => !onPath(tool));
  return absent ? `${absent} not found: install ${install}` : undefined;
}

/**
 * `describe`, skipped (with its reason in the title) outside CI when `unavailable` is set; under
 * CI=true an unavailable suite throws.
 *
 * @param title - the suite's title
 * @param unavailable - why it cannot run, from {@link missing}
 * @param body - the suite
 */
export function describeIf(title: string, unavailable: string | undefined, body: () => void): void {
  if (unavailable && process.env.CI === 'true')
    throw new Error(`${title}: cannot run under CI=true: ${unavailable}`);
  describe.skipIf(unavailable !== undefined)(
    unavailable ? `${title} (skipped: ${unavailable})` : title,
    body,
  );
}
