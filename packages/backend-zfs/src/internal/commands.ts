/**
 * Argument lists for the `zfs` program, built by pure functions so that the exact command
 * lines can be unit-tested (the simplest are written where they run). Only options that both
 * OpenZFS 2.x and zfs-fuse understand are used: `get -H -p` (never `list -p`), one property
 * per `set`, `rename` without `-u`, and properties given at creation with `-o`.
 */
import { DELETED_PROPERTY, VERSION_PROPERTY } from './layout.js';

/** The properties read for every dataset when cachevol looks at its whole tree. */
export const TREE_PROPERTIES = [
  'type',
  'origin',
  'mountpoint',
  'mounted',
  DELETED_PROPERTY,
  VERSION_PROPERTY,
];

/**
 * `zfs get -H -p [-r] -o name,property,value <props> <datasets>`: exact, tab-separated values,
 * of every descendant too with `recursive`.
 */
export function getArgs(
  datasets: readonly string[],
  properties: readonly string[],
  recursive = false,
): string[] {
  const r = recursive ? ['-r'] : [];
  return ['get', '-H', '-p', ...r, '-o', 'name,property,value', properties.join(','), ...datasets];
}

/** `zfs create [-o mountpoint=<mountpoint>] <dataset>`: a layout dataset (mountpoint inherited when omitted). */
export function createLayoutArgs(dataset: string, mountpoint?: string): string[] {
  return ['create', ...(mountpoint === undefined ? [] : ['-o', `mountpoint=${mountpoint}`]), dataset];
}

/**
 * `zfs snapshot [-o cachevol:version=<id>] <dataset>@<name>`: the property, which makes the
 * snapshot a version (see `layout.ts`), is set in the same transaction as the snapshot.
 * @param snapshot - the full snapshot name
 * @param versionId - the version the snapshot is, if it is one
 */
export function snapshotArgs(snapshot: string, versionId?: string): string[] {
  return [
    'snapshot',
    ...(versionId === undefined ? [] : ['-o', `${VERSION_PROPERTY}=${versionId}`]),
    snapshot,
  ];
}

/** `zfs destroy -r <dataset>`: never `-R`, so a dataset with clones is refused, not taken along. */
export const destroyArgs = (dataset: string): string[] => ['destroy', '-r', dataset];
