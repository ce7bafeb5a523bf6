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
 * `btrfs subvolume delete <path>`: deletes one subvolume. It does not wait for the transaction
 * commit (`-c`): the subvolume is already under a `.trash-` name that `list()` reports, so one
 * that a power loss brings back is removed again by a retry or `reconcile()`. Refused with
 * `ENOTEMPTY` while the subvolume holds nested subvolumes.
 * @param path - the subvolume
 */
export function deleteSubvolumeArgs(path: string): string[] {
  return ['subvolume', 'delete', path];
}

/**
 * `btrfs subvolume delete -i <id> <path>`: deletes a subvolume by id (used for nested
 * subvolumes found with {@link listSubvolumesArgs}).
 * @param subvolumeId - the subvolume's id
 * @param path - a subvolume that holds it (btrfs-progs wants a subvolume here)
 */
export function deleteSubvolumeByIdArgs(subvolumeId: number, path: string): string[] {
  return ['subvolume', 'delete', '-i', String(subvolumeId), path];
}

/**
 * `btrfs subvolume list <path>`: every subvolume of the filesystem with its id and parent id.
 * @param path - any path on the filesystem
 */
export function listSubvolumesArgs(path: string): string[] {
  return ['subvolume', 'list', path];
}

/**
 * `btrfs subvolume show <path>`: one subvolume's UUID, its snapshot source's UUID and more.
 * @param path - a subvolume
 */
export function showSubvolumeArgs(path: string): string[] {
  return ['subvolume', 'show', path];
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
 * `btrfs qgroup show --raw -f [--sync] <path>`: the qgroup of the subvolume at `path` in bytes
 * (`-f` leaves out every other level-0 qgroup, so no subvolume id is needed to find its row).
 * `--sync` commits the filesystem's transaction first, so that recent writes to a writable
 * subvolume are counted; a snapshot commits its own transaction, so a version's figures are
 * exact without it.
 * @param path - the subvolume
 * @param sync - commit the transaction before reading
 */
export function qgroupShowArgs(path: string, sync: boolean): string[] {
  return ['qgroup', 'show', '--raw', '-f', ...(sync ? ['--sync'] : []), path];
}

/**
 * `btrfs qgroup clear-stale <path>`: destroys the level-0 qgroups whose subvolume is gone.
 * Recent kernels (6.18 here) drop such a qgroup themselves once the cleaner has removed the
 * subvolume, and refuse to destroy it before that (`EBUSY`); older kernels keep it.
 * @param path - any path on the filesystem
 */
export function qgroupClearStaleArgs(path: string): string[] {
  return ['qgroup', 'clear-stale', path];
}

/**
 * `btrfs filesystem du -s --raw <path>`: bytes referenced by the files under `path`, without
 * quotas (walks the metadata; reads no file data).
 * @param path - the subvolume
 */
export function filesystemDuArgs(path: string): string[] {
  return ['filesystem', 'du', '-s', '--raw', path];
}
