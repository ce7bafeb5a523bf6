import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { sep } from 'node:path';

/** Undoes the octal escapes of `/proc/self/mounts` (`\040` for a space). */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mount points at `dir` or below it, deepest first.
 *
 * @param dir - an absolute directory
 * @param mounts - the text of `/proc/self/mounts` (read when omitted)
 */
export async function mountsUnder(dir: string, mounts?: string): Promise<string[]> {
  const text = mounts ?? (await readFile('/proc/self/mounts', 'utf8').catch(() => ''));
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return text
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[1] ?? ''))
    .filter((point) => point === dir || point.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/**
 * Runs a program with an argument array (never a shell) and resolves with its exit code and
 * standard error; a program that cannot be started resolves with code `null`.
 *
 * @param program - the program
 * @param args - its arguments
 */
export function runTool(
  program: string,
  args: readonly string[],
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(program, [...args], { env: { ...process.env, LC_ALL: 'C' } }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stderr: String(stderr).trim() || (error && code === null ? error.message : '') });
    });
  });
}

/**
 * Unmounts (lazily, `umount -l`) everything mounted at `dir` or below it: what a Docker engine
 * that was killed leaves behind (its containers' root filesystems), so the fork can be
 * abandoned or the directory removed. Failures are ignored (nothing may be mounted at all).
 *
 * @param dir - an absolute directory
 * @param which - which of those mount points to unmount (default: all)
 */
export async function unmountUnder(
  dir: string,
  which: (point: string) => boolean = () => true,
): Promise<void> {
  if (process.platform !== 'linux') return;
  for (const point of await mountsUnder(dir)) if (which(point)) await runTool('umount', ['-l', '--', point]);
}
