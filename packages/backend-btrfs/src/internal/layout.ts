import { join } from 'node:path';
import type { BackendEntry, EntryKind } from '@cachevol/core';
import { isIdName } from '@cachevol/core/backend-kit';

/**
 * The directories under the backend root: `forks/` holds writable subvolumes, `versions/`
 * read-only snapshots. In each, `<id>` is a finished entry, `.tmp-<id>` one being built (renamed
 * to `<id>` when complete) and `.trash-<id>` one being deleted. Without quotas, `versions/` also
 * holds `.size-<id>`: a file with the version's measured size (versions are immutable).
 *
 * Temporary and trash names sit beside the finished ones because the kernel refuses to move a
 * read-only subvolume to another directory (`EROFS`: moving a directory rewrites its `..`);
 * renaming within one directory works, and is atomic.
 */
export const AREAS = ['forks', 'versions'] as const;

/** One of {@link AREAS}. */
export type Area = (typeof AREAS)[number];

const AREA_OF: Record<EntryKind, Area> = { fork: 'forks', version: 'versions' };
const KIND_OF: Record<Area, EntryKind> = { forks: 'fork', versions: 'version' };
const PREFIXES = ['', '.tmp-', '.trash-', '.size-'] as const;

/**
 * The paths of the layout under `root` (ids must have been validated): an area's directory;
 * where a finished fork or version lives (`live`), where it is built before being renamed into
 * place (`temp`), where it goes while being deleted (`trash`); and the file that caches a
 * version's measured size (`size`).
 *
 * @param root - the backend root (absolute)
 */
export function layoutOf(root: string) {
  const at = (kind: EntryKind, name: string) => join(root, AREA_OF[kind], name);
  return {
    area: (area: Area) => join(root, area),
    live: (kind: EntryKind, id: string) => at(kind, id),
    temp: (kind: EntryKind, id: string) => at(kind, `.tmp-${id}`),
    trash: (kind: EntryKind, id: string) => at(kind, `.trash-${id}`),
    size: (id: string) => at('version', `.size-${id}`),
  };
}

/**
 * What a directory entry of an area holds, under the id it is (or was being) built for, or
 * deleted as; `undefined` for names cachevol does not make.
 *
 * @param area - the area the entry is in
 * @param name - the entry's name
 */
export function entryOfName(area: Area, name: string): BackendEntry | undefined {
  for (const prefix of PREFIXES) {
    if (prefix !== '' && !name.startsWith(prefix)) continue;
    const id = name.slice(prefix.length);
    if (isIdName(id)) return { kind: KIND_OF[area], id };
  }
  return undefined;
}
