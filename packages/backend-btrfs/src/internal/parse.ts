import { CacheVolumeError } from '@cachevol/core';

/** One row of `btrfs qgroup show --raw`. */
export interface QgroupRow {
  /** `<level>/<id>`, e.g. `0/258`. */
  qgroupId: string;
  /** Bytes referenced by the subvolume (shared or not). */
  referenced: number;
}

function unreadable(what: string, text: string): never {
  throw new CacheVolumeError(
    'BACKEND_FAILED',
    `Could not read the output of \`btrfs ${what}\` (unexpected format): ${JSON.stringify(text.slice(0, 300))}`,
    { details: { output: text } },
  );
}

function bytes(token: string | undefined, what: string, text: string): number {
  if (token === undefined || !/^\d+$/.test(token)) return unreadable(what, text);
  return Number(token);
}

const tokens = (line: string): string[] => line.trim().split(/\s+/);

/**
 * Reads `btrfs qgroup show --raw` output. Column sets and header casing differ across
 * btrfs-progs versions (`qgroupid rfer excl ...` in old ones, `Qgroupid Referenced Exclusive
 * ... Path` in newer ones, optional limit, parent and child columns), so columns are found by
 * name in the header; the id and referenced columns always come first, before any
 * multi-word column.
 *
 * @param text - the command's standard output
 */
export function parseQgroupShow(text: string): QgroupRow[] {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((line) => tokens(line)[0]?.toLowerCase() === 'qgroupid');
  if (headerAt < 0) return unreadable('qgroup show', text);
  const header = tokens(lines[headerAt] as string).map((t) => t.toLowerCase());
  const column = (...names: string[]): number => {
    const index = header.findIndex((name) => names.includes(name));
    return index < 0 ? unreadable('qgroup show', text) : index;
  };
  const idColumn = column('qgroupid');
  const referencedColumn = column('referenced', 'rfer');
  const rows: QgroupRow[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    const values = tokens(line);
    const qgroupId = values[idColumn];
    if (!qgroupId || !/^\d+\/\d+$/.test(qgroupId)) continue;
    rows.push({ qgroupId, referenced: bytes(values[referencedColumn], 'qgroup show', text) });
  }
  return rows;
}

/**
 * Reads the total of `btrfs filesystem du -s --raw <path>` (header `Total Exclusive Set shared
 * Filename`, one row).
 *
 * @param text - the command's standard output
 * @returns bytes referenced by the files under the path
 */
export function parseFilesystemDu(text: string): number {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const headerAt = lines.findIndex((line) => tokens(line).some((t) => t.toLowerCase() === 'total'));
  if (headerAt < 0) return unreadable('filesystem du', text);
  const totalColumn = tokens(lines[headerAt] as string).findIndex((t) => t.toLowerCase() === 'total');
  const row = lines[headerAt + 1];
  return bytes(row === undefined ? undefined : tokens(row)[totalColumn], 'filesystem du', text);
}

/** The lineage of a subvolume, from `btrfs subvolume show`. */
export interface SubvolumeLineage {
  /** Its own UUID. */
  uuid: string;
  /** The UUID of the subvolume it is a snapshot of, or `null` (made empty). */
  parentUuid: string | null;
}

/**
 * Reads the `UUID:` and `Parent UUID:` lines of `btrfs subvolume show` output (`-` when
 * there is none).
 *
 * @param text - the command's standard output
 */
export function parseSubvolumeShow(text: string): SubvolumeLineage {
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(text)?.[1];
  const uuid = field('UUID');
  const parentUuid = field('Parent UUID');
  if (uuid === undefined || uuid === '-' || parentUuid === undefined)
    return unreadable('subvolume show', text);
  return { uuid, parentUuid: parentUuid === '-' ? null : parentUuid };
}
