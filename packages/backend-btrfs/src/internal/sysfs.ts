import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The qgroups of one filesystem as the kernel shows them in sysfs
 * (`/sys/fs/btrfs/<fsid>/qgroups/<level>_<id>/`, Linux 5.9 and later): read with `node:fs`,
 * so no `btrfs` process is spawned. Figures are the kernel's in-memory ones, updated at each
 * transaction commit, like those `btrfs qgroup show` reads.
 */
export interface QgroupFiles {
  /** The ids of the level-0 qgroups (one per subvolume) that exist now. */
  ids(): Set<string>;
  /**
   * Qgroup `0/<id>`'s figures, or `undefined` when sysfs has no such qgroup (any more).
   * @param id - a subvolume id from {@link QgroupFiles.ids}
   */
  read(id: string): QgroupFigures | undefined;
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

/**
 * The {@link QgroupFiles} of the btrfs filesystem `fsid`, or `undefined` when the kernel shows
 * no qgroups for it (an old kernel, quotas off, no sysfs). Reads are synchronous: sysfs files
 * are made from kernel memory in microseconds and never wait for a disk, and on a busy machine
 * a trip through libuv's thread pool costs more than that (these reads sit on the fork and
 * commit paths).
 *
 * @param fsid - the filesystem's UUID (`btrfs filesystem show`)
 * @param sysfs - the btrfs sysfs directory (tests point it elsewhere)
 */
export function qgroupFiles(fsid: string, sysfs = '/sys/fs/btrfs'): QgroupFiles | undefined {
  const dir = join(sysfs, fsid, 'qgroups');
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  return {
    ids: () => new Set(readdirSync(dir).flatMap((name) => (/^0_\d+$/.test(name) ? [name.slice(2)] : []))),
    read(id) {
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
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^(\d+|0x[0-9a-f]+)$/i.test(text) ? Number(text) : undefined;
  } catch {
    return undefined; // the qgroup went away
  }
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
