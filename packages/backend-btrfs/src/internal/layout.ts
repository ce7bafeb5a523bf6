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

/** Paths of the layout under one root. Ids must have been validated. */
export interface Layout {
  /**
   * An area's directory.
   * @param area - the area
   */
  area(area: Area): string;
  /**
   * Where a finished fork or version lives.
   * @param kind - fork or version
   * @param id - its id
   */
  live(kind: EntryKind, id: string): string;
  /**
   * Where a fork or version is built before being renamed into place.
   * @param kind - fork or version
   * @param id - its id
   */
  temp(kind: EntryKind, id: string): string;
  /**
   * Where a fork or version goes while it is being deleted.
   * @param kind - fork or version
   * @param id - its id
   */
  trash(kind: EntryKind, id: string): string;
  /**
   * The file that caches a version's measured size.
   * @param id - the version's id
   */
  size(id: string): string;
}

/**
 * The layout under `root`.
 *
 * @param root - the backend root (absolute)
 */
export function layoutOf(root: string): Layout {
  return {
    area: (area) => join(root, area),
    live: (kind, id) => join(root, AREA_OF[kind], id),
    temp: (kind, id) => join(root, AREA_OF[kind], `.tmp-${id}`),
    trash: (kind, id) => join(root, AREA_OF[kind], `.trash-${id}`),
    size: (id) => join(root, 'versions', `.size-${id}`),
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
