import type { BackendEntry } from '@cachevol/core';
import { isIdName } from '@cachevol/core/backend-kit';
import { DELETED_PROPERTY, type Layout, SNAPSHOT_NAME, VERSION_PROPERTY } from './layout.js';

/** What cachevol knows about one dataset or snapshot, from `zfs get -H -p`. */
export interface DatasetInfo {
  /** `filesystem`, `snapshot`, `volume`, ... */
  type: string;
  /** The snapshot a clone was made from, or `null`. */
  origin: string | null;
  /** An absolute path, `none`, `legacy`, or `null` when not applicable (snapshots). */
  mountpoint: string | null;
  /** Whether the filesystem is mounted now. */
  mounted: boolean;
  /** Whether the version was removed and waits for its last dependent to go. */
  deleted: boolean;
  /** For a fork's snapshot made by a commit: the version id it is (`cachevol:version`). */
  version: string | null;
}

/** Every dataset under the parent dataset (the parent included), by full name. */
export type Tree = ReadonlyMap<string, DatasetInfo>;

/** Parses `zfs get -H -p -o name,property,value` output into each dataset's properties, by name. */
export function parseProperties(stdout: string): Map<string, Map<string, string>> {
  const datasets = new Map<string, Map<string, string>>();
  for (const line of stdout.split('\n')) {
    const first = line.indexOf('\t');
    const second = line.indexOf('\t', first + 1);
    if (first <= 0 || second < 0) continue;
    const name = line.slice(0, first);
    const properties = datasets.get(name) ?? new Map<string, string>();
    datasets.set(name, properties);
    properties.set(line.slice(first + 1, second), line.slice(second + 1));
  }
  return datasets;
}

/** Parses `zfs get` output of the tree properties into one record per dataset (`-`: unset). */
export function parseTree(stdout: string): Tree {
  const tree = new Map<string, DatasetInfo>();
  for (const [name, properties] of parseProperties(stdout)) {
    const value = (property: string): string | null => {
      const raw = properties.get(property);
      return raw === undefined || raw === '-' ? null : raw;
    };
    tree.set(name, {
      type: value('type') ?? '',
      origin: value('origin'),
      mountpoint: value('mountpoint'),
      mounted: value('mounted') === 'yes',
      deleted: value(DELETED_PROPERTY) === 'on',
      version: value(VERSION_PROPERTY),
    });
  }
  return tree;
}

/** The id of `<area>/<id>` when `name` is a direct child of `area` with a valid id. */
function childId(area: string, name: string): string | undefined {
  if (!name.startsWith(`${area}/`)) return undefined;
  const id = name.slice(area.length + 1);
  return isIdName(id) ? id : undefined;
}

/** The version id of a scratch dataset `<area>/<id>.<what>` (see `scratchDataset`), if it is one. */
function scratchId(area: string, name: string): string | undefined {
  if (!name.startsWith(`${area}/`)) return undefined;
  const rest = name.slice(area.length + 1);
  const dot = rest.indexOf('.');
  const id = rest.slice(0, dot);
  return dot > 0 && !rest.includes('/') && !rest.includes('@') && isIdName(id) ? id : undefined;
}

/**
 * The scratch datasets of a version: what a receive or a tar send left under `forks/` or
 * `versions/` (see `transfer.ts`).
 *
 * @param tree - the datasets
 * @param layout - the layout
 * @param versionId - the version
 */
export function scratchOf(tree: Tree, layout: Layout, versionId: string): [string, DatasetInfo][] {
  return [...tree].filter(
    ([name, info]) =>
      info.type === 'filesystem' &&
      (scratchId(layout.forks, name) ?? scratchId(layout.versions, name)) === versionId,
  );
}

/**
 * A live version: `versions/<id>` is a filesystem with its snapshot and not marked deleted.
 *
 * @param tree - the datasets
 * @param dataset - the version's dataset name
 */
export function isLiveVersion(tree: Tree, dataset: string): boolean {
  const info = tree.get(dataset);
  return (
    info?.type === 'filesystem' &&
    !info.deleted &&
    tree.get(`${dataset}@${SNAPSHOT_NAME}`)?.type === 'snapshot'
  );
}

/**
 * The version a fork dataset became by a commit not filed yet: the id its `@v` snapshot
 * carries, when that is a valid id and `versions/<id>` does not hold it already.
 *
 * @param tree - the datasets
 * @param dataset - a fork dataset
 */
export function unfiledVersion(tree: Tree, dataset: string): string | undefined {
  const id = tree.get(`${dataset}@${SNAPSHOT_NAME}`)?.version;
  if (id === null || id === undefined || !isIdName(id)) return undefined;
  const root = dataset.slice(0, dataset.lastIndexOf('/forks/'));
  // Another fork's version under that id (a reused id): this one stays a fork.
  return isLiveVersion(tree, `${root}/versions/${id}`) ? undefined : id;
}

/**
 * Where a version's snapshot is: `versions/<id>@v` once filed, or the `@v` of the fork that a
 * commit made it from until then; `undefined` when it is neither (missing or removed).
 *
 * @param tree - the datasets
 * @param layout - the layout
 * @param versionId - the version
 */
export function versionSnapshot(tree: Tree, layout: Layout, versionId: string): string | undefined {
  const filed = `${layout.versions}/${versionId}`;
  if (isLiveVersion(tree, filed)) return `${filed}@${SNAPSHOT_NAME}`;
  for (const name of tree.keys()) {
    if (childId(layout.forks, name) !== undefined && unfiledVersion(tree, name) === versionId) {
      return `${name}@${SNAPSHOT_NAME}`;
    }
  }
  return undefined;
}

/**
 * What the backend holds, for `list()`: forks under `forks/` (half-made ones included),
 * versions under `versions/` that are not marked deleted, and the scratch datasets of versions
 * being received or sent (under the version's id). Names that are not valid ids are not
 * cachevol's and are left out.
 *
 * @param tree - the datasets
 * @param layout - the layout
 */
export function entriesOf(tree: Tree, layout: Layout): BackendEntry[] {
  const forks = new Set<string>();
  const versions = new Set<string>();
  for (const [name, info] of tree) {
    if (info.type !== 'filesystem') continue;
    const fork = childId(layout.forks, name);
    const committed = fork === undefined ? undefined : unfiledVersion(tree, name);
    if (committed !== undefined) versions.add(committed);
    else if (fork !== undefined) forks.add(fork);
    const version = childId(layout.versions, name);
    if (version !== undefined && !info.deleted) versions.add(version);
    const scratch = scratchId(layout.forks, name) ?? scratchId(layout.versions, name);
    if (scratch !== undefined) versions.add(scratch);
  }
  return [
    ...[...forks].sort().map((id) => ({ kind: 'fork' as const, id })),
    ...[...versions].sort().map((id) => ({ kind: 'version' as const, id })),
  ];
}

/**
 * The removed versions that can be destroyed now, in an order that works: a version marked
 * deleted goes once no dataset is a clone of one of its snapshots, and destroying it may free
 * the version it was itself cloned from (the walk up `origin`).
 *
 * @param tree - the datasets
 * @param layout - the layout
 * @returns version datasets to `zfs destroy -r`, dependents first
 */
export function collectable(tree: Tree, layout: Layout): string[] {
  const clones = new Map<string, number>();
  const parentOf = (snapshot: string): string => snapshot.slice(0, snapshot.indexOf('@'));
  for (const info of tree.values()) {
    if (info.origin) clones.set(parentOf(info.origin), (clones.get(parentOf(info.origin)) ?? 0) + 1);
  }
  const marked = [...tree]
    .filter(
      ([name, info]) =>
        info.deleted && info.type === 'filesystem' && childId(layout.versions, name) !== undefined,
    )
    .map(([name]) => name)
    .sort();
  const order: string[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const name of marked) {
      if (order.includes(name) || (clones.get(name) ?? 0) > 0) continue;
      order.push(name);
      progress = true;
      const origin = tree.get(name)?.origin;
      if (origin) clones.set(parentOf(origin), (clones.get(parentOf(origin)) ?? 1) - 1);
    }
  }
  return order;
}
