/**
 * Where cachevol keeps things under the parent dataset `<root>`:
 *
 * - `<root>/forks/<fork id>`: live forks, mounted (the only mounted datasets). A fork is made
 *   here directly, by one `zfs clone`/`zfs create` that also sets its refquota and mounts it.
 * - `<root>/forks/<fork id>` whose snapshot `@v` has {@link VERSION_PROPERTY} set: a version
 *   committed but not filed yet (the fork is renamed into `versions/` after the commit
 *   returns); it counts as that version, and no longer as a fork.
 * - `<root>/versions/<version id>` with the snapshot `@v`: committed versions (not mounted).
 *   A removed version whose snapshot still has clones stays here with the user property
 *   {@link DELETED_PROPERTY} set until its last dependent is gone.
 */
export interface Layout {
  /** The parent dataset from the options. */
  readonly root: string;
  /** `<root>/forks`. */
  readonly forks: string;
  /** `<root>/versions`. */
  readonly versions: string;
}

/**
 * The user property of a fork's snapshot that makes it a version: its value is the version id.
 * `zfs snapshot -o` sets it in the same transaction as the snapshot, so a commit is one command;
 * the fork is then filed under `versions/` off the commit path (see `operations.ts`).
 */
export const VERSION_PROPERTY = 'cachevol:version';

/** The user property that marks a removed version awaiting the end of its last dependent. */
export const DELETED_PROPERTY = 'cachevol:deleted';

/**
 * Beside the forks' mounts, a file `.removed-<id>` per version marked {@link DELETED_PROPERTY}:
 * forks check for it with one `access()`, where reading the property takes a `zfs` process.
 */
export const REMOVED_PREFIX = '.removed-';

/**
 * The name of a removed version's mark.
 * @param version - the version's dataset (`<root>/versions/<id>`)
 */
export const removedMarkName = (version: string): string =>
  `${REMOVED_PREFIX}${version.slice(version.lastIndexOf('/') + 1)}`;

/** The name of the one snapshot of a version (and of a fork being committed). */
export const SNAPSHOT_NAME = 'v';

/**
 * The layout under a parent dataset.
 *
 * @param root - the parent dataset (already validated)
 */
export function layoutOf(root: string): Layout {
  return { root, forks: `${root}/forks`, versions: `${root}/versions` };
}

/**
 * The dataset of a live fork.
 * @param layout - the layout
 * @param forkId - a validated fork id
 */
export function forkDataset(layout: Layout, forkId: string): string {
  return `${layout.forks}/${forkId}`;
}

/**
 * The dataset of a version.
 * @param layout - the layout
 * @param versionId - a validated version id
 */
export function versionDataset(layout: Layout, versionId: string): string {
  return `${layout.versions}/${versionId}`;
}

/**
 * A scratch dataset of a version being received or sent (see `transfer.ts`): `<area>/<id>.<what>`.
 * Ids never hold a `.`, so it is never a fork's or version's own name.
 * @param area - `layout.forks` or `layout.versions`
 * @param versionId - a validated version id
 * @param what - `recv`, or `send-<random>`
 */
export function scratchDataset(area: string, versionId: string, what: string): string {
  return `${area}/${versionId}.${what}`;
}

/**
 * The snapshot of a dataset that a version is (or will be, for a fork being committed).
 * @param dataset - a version or fork dataset
 */
export function snapshotOf(dataset: string): string {
  return `${dataset}@${SNAPSHOT_NAME}`;
}
