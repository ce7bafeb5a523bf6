import { join } from 'node:path';
import type { BackendEntry, EntryKind } from '@cachevol/core';
import { isIdName } from '@cachevol/core/backend-kit';

/**
 * Where everything lives under the backend root:
 *
 * ```
 * <root>/forks/<id>.sparsebundle           live forks (attached writable)
 * <root>/versions/<id>.sparsebundle        committed versions (detached; attached read-only when read)
 * <root>/building/<kind>-<id>.sparsebundle bundles being made (renamed into place when whole)
 * <root>/trash/<kind>-<id>.sparsebundle    bundles being deleted
 * <root>/mounts/forks/<id>                 fork mount points
 * <root>/mounts/versions/<id>              read-only version mount points
 * ```
 */
export interface Layout {
  /** The backend root. */
  root: string;
  /** `<root>/forks`. */
  forks: string;
  /** `<root>/versions`. */
  versions: string;
  /** `<root>/building`. */
  building: string;
  /** `<root>/trash`. */
  trash: string;
  /** `<root>/mounts/forks`. */
  forkMounts: string;
  /** `<root>/mounts/versions`. */
  versionMounts: string;
}

/** The bundle directory suffix. */
export const BUNDLE_SUFFIX = '.sparsebundle';

/**
 * The layout under a root.
 *
 * @param root - the backend root (absolute)
 */
export function layoutOf(root: string): Layout {
  return {
    root,
    forks: join(root, 'forks'),
    versions: join(root, 'versions'),
    building: join(root, 'building'),
    trash: join(root, 'trash'),
    forkMounts: join(root, 'mounts', 'forks'),
    versionMounts: join(root, 'mounts', 'versions'),
  };
}

/** Every directory of a layout, parents first. */
export function layoutDirectories(layout: Layout): string[] {
  return [
    layout.forks,
    layout.versions,
    layout.building,
    layout.trash,
    layout.forkMounts,
    layout.versionMounts,
  ];
}

/**
 * The bundle of a live fork or a version.
 *
 * @param layout - the layout
 * @param kind - fork or version
 * @param id - a validated id
 */
export function bundlePath(layout: Layout, kind: EntryKind, id: string): string {
  return join(kind === 'fork' ? layout.forks : layout.versions, `${id}${BUNDLE_SUFFIX}`);
}

/**
 * Where a bundle is built before it is renamed into place.
 *
 * @param layout - the layout
 * @param kind - fork or version
 * @param id - a validated id
 */
export function buildingPath(layout: Layout, kind: EntryKind, id: string): string {
  return join(layout.building, `${kind}-${id}${BUNDLE_SUFFIX}`);
}

/**
 * Where a bundle goes to be deleted.
 *
 * @param layout - the layout
 * @param kind - fork or version
 * @param id - a validated id
 */
export function trashPath(layout: Layout, kind: EntryKind, id: string): string {
  return join(layout.trash, `${kind}-${id}${BUNDLE_SUFFIX}`);
}

/**
 * The mount point of a fork, or of a version attached read-only.
 *
 * @param layout - the layout
 * @param kind - fork or version
 * @param id - a validated id
 */
export function mountPathOf(layout: Layout, kind: EntryKind, id: string): string {
  return join(kind === 'fork' ? layout.forkMounts : layout.versionMounts, id);
}

/**
 * Reads an id back from a name in one of the layout's directories.
 *
 * @param name - the directory entry's name
 * @param shape - `bundle` (`<id>.sparsebundle`), `tagged` (`<kind>-<id>.sparsebundle`) or
 *   `plain` (`<id>`)
 * @returns the entry, or `undefined` for names the backend did not make
 */
export function parseEntryName(
  name: string,
  shape: 'bundle' | 'tagged' | 'plain',
  kind?: EntryKind,
): BackendEntry | undefined {
  let rest = name;
  if (shape !== 'plain') {
    if (!rest.endsWith(BUNDLE_SUFFIX)) return undefined;
    rest = rest.slice(0, -BUNDLE_SUFFIX.length);
  }
  let entryKind = kind;
  if (shape === 'tagged') {
    const match = /^(fork|version)-(.*)$/.exec(rest);
    if (!match) return undefined;
    entryKind = match[1] as EntryKind;
    rest = match[2] as string;
  }
  if (!entryKind || !isIdName(rest)) return undefined;
  return { kind: entryKind, id: rest };
}

/**
 * Which entry a path under the root belongs to (an attached image's `image-path`, a mount point).
 *
 * @param layout - the layout
 * @param path - an absolute path, spelled from the root
 */
export function entryOfPath(layout: Layout, path: string): BackendEntry | undefined {
  const places: [string, 'bundle' | 'tagged' | 'plain', EntryKind | undefined][] = [
    [layout.forks, 'bundle', 'fork'],
    [layout.versions, 'bundle', 'version'],
    [layout.building, 'tagged', undefined],
    [layout.trash, 'tagged', undefined],
    [layout.forkMounts, 'plain', 'fork'],
    [layout.versionMounts, 'plain', 'version'],
  ];
  for (const [dir, shape, kind] of places) {
    if (!path.startsWith(`${dir}/`)) continue;
    const name = path.slice(dir.length + 1);
    if (name.includes('/')) return undefined;
    return parseEntryName(name, shape, kind);
  }
  return undefined;
}
