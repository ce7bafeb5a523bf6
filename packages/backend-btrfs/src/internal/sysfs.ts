import { readdirSync, readFileSync } from 'node:fs';
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * The qgroups of one filesystem as the kernel shows them in sysfs
 * (`/sys/fs/btrfs/<fsid>/qgroups/<level>_<id>/`, Linux 5.9 and later): read with `node:fs`,
 * so no `btrfs` process is spawned. Figures are the kernel's in-memory ones, updated at each
 * transaction commit, like those `btrfs qgroup show` reads.
 */
export interface QgroupFiles {
  /** The ids of the level-0 qgroups (one per subvolume) that exist now. */
  ids(): Promise<Set<string>>;
  /**
   * Qgroup `0/<id>`'s figures, or `undefined` when sysfs has no such qgroup (any more).
   * @param id - a subvolume id from {@link QgroupFiles.ids}
   */
  read(id: string): Promise<QgroupFigures | undefined>;
}

/** What sysfs shows of one qgroup. */
export interface QgroupFigures {
  /** Bytes referenced (shared or not). */
  referenced: number;
  /** Its limit on referenced bytes, or `undefined` when there is none. */
  limit: number | undefined;
}

/** `BTRFS_QGROUP_LIMIT_MAX_RFER`: the qgroup has a limit on referenced bytes. */
const LIMIT_MAX_RFER = 1;

/** Where the kernel shows things; tests point these at directories of their own. */
export interface SysPaths {
  /** The btrfs sysfs directory. */
  sysfs: string;
  /** This process's mount table. */
  mountinfo: string;
}

const SYSTEM: SysPaths = { sysfs: '/sys/fs/btrfs', mountinfo: '/proc/self/mountinfo' };

/** A mount table field with its octal escapes (`\040` for a space) undone. */
const unescaped = (field: string) =>
  field.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 8)));

/**
 * The sysfs directory of the btrfs filesystem holding `path`: the mount table names the device
 * of the innermost btrfs mount that holds `path`, and sysfs lists each filesystem's devices.
 * `undefined` when none matches.
 */
async function filesystemDir(target: string, sys: SysPaths): Promise<string | undefined> {
  const path = await realpath(target);
  let device: string | undefined;
  let longest = -1;
  for (const line of (await readFile(sys.mountinfo, 'utf8')).split('\n')) {
    // id parent major:minor root mount-point options [tags] - type source super-options
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const mountPoint = unescaped(fields[4] ?? '');
    if (dash < 0 || fields[dash + 1] !== 'btrfs' || mountPoint.length < longest) continue;
    if (path !== mountPoint && !path.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`)) continue;
    longest = mountPoint.length;
    device = unescaped(fields[dash + 2] ?? '');
  }
  if (device === undefined) return undefined;
  const name = basename(await realpath(device).catch(() => device));
  for (const fsid of await readdir(sys.sysfs)) {
    const holds = await lstat(join(sys.sysfs, fsid, 'devices', name)).catch(() => undefined);
    if (holds) return join(sys.sysfs, fsid);
  }
  return undefined;
}

/**
 * The {@link QgroupFiles} of the btrfs filesystem holding `path`, or `undefined` when the
 * kernel shows no qgroups for it (an old kernel, quotas off, no sysfs, an unknown device).
 *
 * @param path - an absolute path on btrfs
 * @param sys - where the kernel shows things (tests only)
 */
export async function qgroupFiles(path: string, sys: SysPaths = SYSTEM): Promise<QgroupFiles | undefined> {
  const fsDir = await filesystemDir(path, sys).catch(() => undefined);
  const dir = fsDir && join(fsDir, 'qgroups');
  if (!dir || !(await lstat(dir).catch(() => undefined))?.isDirectory()) return undefined;
  // Read synchronously: sysfs files are made from kernel memory on read, in microseconds, and
  // never wait for a disk. On a busy machine each trip through libuv's thread pool costs more
  // than that (these reads sit on the fork and commit paths).
  return {
    async ids() {
      const names = readdirSync(dir);
      return new Set(names.filter((name) => /^0_\d+$/.test(name)).map((name) => name.slice(2)));
    },
    async read(id) {
      const [referenced, flags, limit] = ['referenced', 'limit_flags', 'max_referenced'].map((name) =>
        number(join(dir, `0_${id}`, name)),
      );
      if (referenced === undefined || flags === undefined) return undefined;
      return { referenced, limit: flags & LIMIT_MAX_RFER ? limit : undefined };
    },
  };
}

/** The number in a sysfs file (decimal, or hexadecimal with `0x`), or `undefined`. */
function number(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  return /^(\d+|0x[0-9a-f]+)$/i.test(text) ? Number(text) : undefined;
}

/**
 * The one id in `after` that is not in `before`, or `undefined` when there is none or more
 * than one (another subvolume was made at the same time: which is which is unknown).
 *
 * @param before - ids before a subvolume was made
 * @param after - ids after
 */
export function newId(before: Set<string>, after: Set<string>): string | undefined {
  const added = [...after].filter((id) => !before.has(id));
  return added.length === 1 ? added[0] : undefined;
}
