import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CommandFailedError } from '../../errors.js';

/**
 * Bind mounts with util-linux's `mount` and `umount`, run with argument arrays (never a shell).
 * The argument vectors are built by pure functions, tested without the tools.
 */

/** `mount --bind <source> <target>`: shows `source` at `target`. */
export function bindMountArgv(source: string, target: string): [string, string[]] {
  return ['mount', ['--bind', '--', source, target]];
}

/**
 * `umount <target>`; with `lazy`, `umount --lazy <target>` (detaches now, frees when unused).
 *
 * @param target - the mount point
 * @param lazy - detach a busy mount
 */
export function unmountArgv(target: string, lazy = false): [string, string[]] {
  return ['umount', lazy ? ['--lazy', '--', target] : ['--', target]];
}

/** CAP_SYS_ADMIN's bit in the capability sets of `/proc/<pid>/status`. */
const CAP_SYS_ADMIN = 21n;

/**
 * Tells whether a `CapEff:` line of `/proc/self/status` grants CAP_SYS_ADMIN.
 *
 * @param status - the text of `/proc/self/status`
 */
export function hasSysAdmin(status: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
}

/**
 * Tells whether this process may bind-mount: Linux, and root or CAP_SYS_ADMIN. (A container may
 * still refuse; the caller falls back to a symlink when `mount` fails.)
 */
export async function mayBindMount(): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  if (process.getuid?.() === 0) return true;
  return hasSysAdmin(await readFile('/proc/self/status', 'utf8').catch(() => ''));
}

/** Where util-linux lives when PATH leaves sbin out. */
const SBIN_PATH = '/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin';

/**
 * Runs `mount` or `umount` with an argument array.
 *
 * @param argv - from {@link bindMountArgv} or {@link unmountArgv}
 * @throws {@link CommandFailedError} when it fails or cannot start
 */
export function runMountCommand([file, args]: [string, string[]]): Promise<void> {
  const env = { ...process.env, LC_ALL: 'C', PATH: `${process.env.PATH ?? ''}:${SBIN_PATH}` };
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = typeof error.code === 'number' ? error.code : null;
      const why = String(stderr).trim() || (typeof error.code === 'string' ? error.code : error.message);
      reject(new CommandFailedError({ command: file, args, exitCode: code, stderr: why }));
    });
  });
}
