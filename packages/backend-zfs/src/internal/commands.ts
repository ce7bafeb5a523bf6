/**
 * Argument lists for the `zfs` program, built by pure functions so that the exact command
 * lines can be unit-tested. Only options that both OpenZFS 2.x and zfs-fuse understand are
 * used: `get -H -p` (never `list -p`), one property per `set`, `rename` without `-u`, and
 * properties given at creation with `-o`.
 */

/** The properties read for every dataset when cachevol looks at its whole tree. */
export const TREE_PROPERTIES = [
  'type',
  'origin',
  'mountpoint',
  'mounted',
  'cachevol:deleted',
  'cachevol:version',
] as const;

/**
 * `zfs get -H -p -o name,property,value <props> <datasets>`: machine-readable properties
 * (tab-separated, exact numbers), optionally of every descendant too.
 *
 * @param datasets - the datasets to read
 * @param properties - the properties to read
 * @param recursive - also read every descendant (`-r`)
 */
export function getArgs(
  datasets: readonly string[],
  properties: readonly string[],
  recursive = false,
): string[] {
  return [
    'get',
    '-H',
    '-p',
    ...(recursive ? ['-r'] : []),
    '-o',
    'name,property,value',
    properties.join(','),
    ...datasets,
  ];
}

/**
 * `zfs create [-o mountpoint=<mountpoint>] <dataset>`: a layout dataset.
 *
 * @param dataset - the dataset to create
 * @param mountpoint - an absolute path or `none`; inherited when omitted
 */
export function createLayoutArgs(dataset: string, mountpoint?: string): string[] {
  return ['create', ...(mountpoint === undefined ? [] : ['-o', `mountpoint=${mountpoint}`]), dataset];
}

/**
 * `zfs create -o refquota=<bytes> <dataset>`: an empty fork with its capacity, mounted (a
 * success means it is mounted; a failure after the dataset was made says so on stderr).
 *
 * @param dataset - the fork's dataset
 * @param capacityBytes - the fork's capacity
 */
export function createForkArgs(dataset: string, capacityBytes: number): string[] {
  return ['create', '-o', `refquota=${capacityBytes}`, dataset];
}

/**
 * `zfs clone -o refquota=<bytes> <snapshot> <dataset>`: a fork of a version, in constant time,
 * mounted like {@link createForkArgs}.
 *
 * @param snapshot - the version's snapshot
 * @param dataset - the fork's dataset
 * @param capacityBytes - the fork's capacity
 */
export function cloneArgs(snapshot: string, dataset: string, capacityBytes: number): string[] {
  return ['clone', '-o', `refquota=${capacityBytes}`, snapshot, dataset];
}

/**
 * `zfs snapshot [-o <property>=<value>]... <dataset>@<name>`: the properties are set in the
 * same transaction as the snapshot is made.
 *
 * @param snapshot - the full snapshot name
 * @param properties - user properties to give the snapshot
 */
export function snapshotArgs(snapshot: string, properties: Readonly<Record<string, string>> = {}): string[] {
  return [
    'snapshot',
    ...Object.entries(properties).flatMap(([name, value]) => ['-o', `${name}=${value}`]),
    snapshot,
  ];
}

/**
 * `zfs rename <from> <to>` (no `-u`: zfs-fuse lacks it; the dataset is remounted or unmounted
 * according to its new inherited mountpoint).
 *
 * @param from - the current name
 * @param to - the new name
 */
export function renameArgs(from: string, to: string): string[] {
  return ['rename', from, to];
}

/**
 * `zfs mount <dataset>`.
 *
 * @param dataset - the filesystem to mount at its mountpoint
 */
export function mountArgs(dataset: string): string[] {
  return ['mount', dataset];
}

/**
 * `zfs unmount <dataset>`. cachevol unmounts a fork itself before renaming or destroying it:
 * on zfs-fuse a rename of a mounted filesystem fails with "dataset is busy" (still seconds
 * after the last write; it remounts on failure, so retrying the rename alone does not help).
 *
 * @param dataset - the mounted filesystem
 */
export function unmountArgs(dataset: string): string[] {
  return ['unmount', dataset];
}

/**
 * `zfs set <property>=<value> <dataset>` (one property per call: zfs-fuse takes no more).
 *
 * @param dataset - the dataset
 * @param property - the property name
 * @param value - its new value
 */
export function setArgs(dataset: string, property: string, value: string): string[] {
  return ['set', `${property}=${value}`, dataset];
}

/**
 * `zfs destroy -r <dataset>`: a filesystem and its snapshots, or a single snapshot. Never `-R`:
 * a dataset with dependent clones is refused, not destroyed along with them.
 *
 * @param dataset - the filesystem or snapshot
 */
export function destroyArgs(dataset: string): string[] {
  return ['destroy', '-r', dataset];
}
