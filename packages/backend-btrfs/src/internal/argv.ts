/**
 * Argument lists for every `btrfs` command the backend runs, built by pure functions so that
 * the exact command lines are unit-tested without the tool. Paths are always absolute (the
 * options schema refuses a relative root), so none can be mistaken for an option.
 */

/** `btrfs --version`: proves the tool is installed. */
export function versionArgs(): string[] {
  return ['--version'];
}

/**
 * `btrfs subvolume create <path>`: an empty subvolume (an empty fork).
 * @param path - where to create it
 */
export function createSubvolumeArgs(path: string): string[] {
  return ['subvolume', 'create', path];
}

/**
 * `btrfs subvolume snapshot [-r] <source> <target>`: a constant-time copy-on-write snapshot.
 * @param source - the subvolume to snapshot
 * @param target - the new snapshot's path
 * @param readOnly - make a read-only snapshot (a version)
 */
export function snapshotArgs(source: string, target: string, readOnly: boolean): string[] {
  return ['subvolume', 'snapshot', ...(readOnly ? ['-r'] : []), source, target];
}

/**
 * `btrfs subvolume delete -c <path>`: deletes one subvolume and waits for the transaction
 * commit, so the deletion cannot be undone by a crash.
 * @param path - the subvolume
 */
export function deleteSubvolumeArgs(path: string): string[] {
  return ['subvolume', 'delete', '-c', path];
}

/**
 * `btrfs subvolume delete -c -i <id> <path>`: deletes a subvolume by id (used for nested
 * subvolumes found with {@link listSubvolumesArgs}).
 * @param subvolumeId - the subvolume's id
 * @param path - a subvolume that holds it (btrfs-progs wants a subvolume here)
 */
export function deleteSubvolumeByIdArgs(subvolumeId: number, path: string): string[] {
  return ['subvolume', 'delete', '-c', '-i', String(subvolumeId), path];
}

/**
 * `btrfs subvolume list <path>`: every subvolume of the filesystem with its id and parent id.
 * @param path - any path on the filesystem
 */
export function listSubvolumesArgs(path: string): string[] {
  return ['subvolume', 'list', path];
}

/**
 * `btrfs inspect-internal rootid <path>`: the id of the subvolume holding `path`.
 * @param path - a path on btrfs
 */
export function rootIdArgs(path: string): string[] {
  return ['inspect-internal', 'rootid', path];
}

/**
 * `btrfs quota enable <path>`: turns qgroup accounting on for the filesystem.
 * @param path - any path on the filesystem
 */
export function quotaEnableArgs(path: string): string[] {
  return ['quota', 'enable', path];
}

/**
 * `btrfs quota rescan -w <path>` (start a rescan and wait) or `-W` (only wait for one that is
 * running): limits are not enforced until a rescan finishes.
 * @param path - any path on the filesystem
 * @param start - start a new rescan rather than only wait for a running one
 */
export function quotaRescanArgs(path: string, start: boolean): string[] {
  return ['quota', 'rescan', start ? '-w' : '-W', path];
}

/**
 * `btrfs qgroup limit <bytes> <path>`: limits the referenced bytes of the subvolume at `path`
 * (like ZFS `refquota`: what the fork can see, shared or not).
 * @param bytes - the limit
 * @param path - the subvolume
 */
export function qgroupLimitArgs(bytes: number, path: string): string[] {
  return ['qgroup', 'limit', String(bytes), path];
}

/**
 * `btrfs qgroup show --raw -f --sync <path>`: the qgroup of the subvolume at `path`, in bytes,
 * after a sync so that recent writes are counted.
 * @param path - the subvolume
 */
export function qgroupShowArgs(path: string): string[] {
  return ['qgroup', 'show', '--raw', '-f', '--sync', path];
}

/**
 * `btrfs qgroup destroy 0/<id> <path>`: drops the qgroup of a deleted subvolume (kernels that
 * do not drop it themselves leave it behind otherwise).
 * @param subvolumeId - the deleted subvolume's id
 * @param path - any path on the filesystem
 */
export function qgroupDestroyArgs(subvolumeId: number, path: string): string[] {
  return ['qgroup', 'destroy', `0/${subvolumeId}`, path];
}

/**
 * `btrfs filesystem du -s --raw <path>`: bytes referenced by the files under `path`, without
 * quotas (walks the metadata; reads no file data).
 * @param path - the subvolume
 */
export function filesystemDuArgs(path: string): string[] {
  return ['filesystem', 'du', '-s', '--raw', path];
}
