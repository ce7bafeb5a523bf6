import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';

/**
 * Reading `/proc/self/mountinfo` (Linux): which mounts exist, where they come from. Parsing is
 * pure (unit-tested on fixed text); only {@link readMounts} touches the system.
 */

/** One line of `/proc/self/mountinfo`. */
export interface MountEntry {
  /** `major:minor` of the filesystem the mount shows. */
  device: string;
  /** The directory of that filesystem shown at the mount point (`/` for a whole filesystem). */
  root: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** The root was deleted after mounting (the kernel appends `//deleted`). */
  deleted: boolean;
}

/** Undoes the kernel's octal escapes (`\040` for a space, `\011`, `\012`, `\134`). */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * Parses the text of `/proc/self/mountinfo`; malformed lines are left out.
 *
 * @param text - the file's text
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5 || !/^\d+:\d+$/.test(fields[2] ?? '')) continue;
    let root = unescapeField(fields[3] as string);
    const deleted = root.endsWith('//deleted');
    if (deleted) root = root.slice(0, -'//deleted'.length) || '/';
    entries.push({
      device: fields[2] as string,
      root,
      mountPoint: unescapeField(fields[4] as string),
      deleted,
    });
  }
  return entries;
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The mount a path is on (the last mounted over it wins), for a path with no symlinks in it.
 *
 * @param mounts - from {@link parseMountInfo}
 * @param path - an absolute, resolved path
 */
export function mountOf(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of mounts) {
    if (!inside(entry.mountPoint, path)) continue;
    if (!best || entry.mountPoint.length >= best.mountPoint.length) best = entry;
  }
  return best;
}

/**
 * The mount whose mount point is exactly `path` (the topmost one), if any.
 *
 * @param mounts - from {@link parseMountInfo}
 * @param path - an absolute, resolved path
 */
export function mountAt(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  return mounts.filter((entry) => entry.mountPoint === path).at(-1);
}

/**
 * Where `path` is inside its filesystem: `{ device, path }` such that a bind mount of `path`
 * shows that device and root. Two paths with the same answer are the same directory.
 *
 * @param mounts - from {@link parseMountInfo}
 * @param path - an absolute, resolved path
 */
export function filesystemPath(
  mounts: readonly MountEntry[],
  path: string,
): { device: string; path: string } | undefined {
  const entry = mountOf(mounts, path);
  if (!entry) return undefined;
  const rest = relative(entry.mountPoint, path);
  return {
    device: entry.device,
    path: rest === '' ? entry.root : `${entry.root.replace(/\/$/, '')}/${rest}`,
  };
}

/**
 * Tells whether a bind mount (`entry`) shows `dir` or something below it.
 *
 * @param entry - the mount
 * @param dir - where `dir` is in its filesystem, from {@link filesystemPath}
 */
export function mountShows(entry: MountEntry, dir: { device: string; path: string }): boolean {
  return entry.device === dir.device && inside(dir.path, entry.root);
}

/** Reads this process's mount table; empty where there is none (not Linux). */
export async function readMounts(): Promise<MountEntry[]> {
  if (process.platform !== 'linux') return [];
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
}
