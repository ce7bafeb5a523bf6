import { cp, readlink, realpath, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ForkLink } from '../../model/state.js';
import { ensureForkDirectory, errnoOf, lstatOrNull, removeForkTree } from './fork-dirs.js';
import { unmount } from './link-path.js';
import { filesystemPath, mountAt, mountShows, readMounts } from './mountinfo.js';
import type { UnlinkResult } from './options.js';

/**
 * Undoes one recorded link of a fork. A bind mount is unmounted only when it shows the fork's
 * directory; a symlink is removed only when it points at it. When the tool replaced the symlink
 * by a real directory (npm does: "Removing non-directory"), `capture` moves that directory into
 * the fork (rename, or copy then remove across filesystems) so the commit holds what the tool
 * wrote; without `capture` it is left where it is.
 *
 * @param link - the recorded link
 * @param mountPath - the fork's root
 * @param capture - move a replaced directory into the fork (the fork is about to be committed)
 * @throws when a bind mount of the fork cannot be unmounted (committing then would expose the
 *   version through the mount)
 */
export async function releaseLink(
  link: ForkLink,
  mountPath: string,
  capture: boolean,
): Promise<UnlinkResult> {
  const target = join(mountPath, link.subdir);
  const base = { linkPath: link.path, method: link.method };
  const info = await lstatOrNull(link.path);
  if (!info) return { ...base, action: 'gone' };
  if (info.isDirectory()) {
    const mounts = await readMounts();
    const mounted = mountAt(mounts, await realpath(link.path));
    if (mounted) {
      const ours = filesystemPath(mounts, target);
      if (!mounted.deleted && !(ours && mountShows(mounted, ours))) {
        return {
          ...base,
          action: 'left',
          problem: `${link.path} is mounted from somewhere else; left as it is`,
        };
      }
      const problem = await unmount(link.path);
      if (link.madeDir) await rmdir(link.path).catch(() => undefined);
      return { ...base, action: 'unmounted', ...(problem ? { problem } : {}) };
    }
    if (link.method === 'bind') {
      if (link.madeDir) await rmdir(link.path).catch(() => undefined);
      return { ...base, action: 'gone' };
    }
    if (!capture) {
      return {
        ...base,
        action: 'left',
        problem: `the tool replaced the link ${link.path} by a directory; the fork is not committed, so it stays there`,
      };
    }
    return { ...base, action: 'captured', capturedBy: await capturePath(link, mountPath, target) };
  }
  if (info.isSymbolicLink() && resolve(dirname(link.path), await readlink(link.path)) === target) {
    await unlink(link.path).catch((error) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
    });
    return { ...base, action: 'removed' };
  }
  return {
    ...base,
    action: 'left',
    problem: `${link.path} is no longer the link made for the fork; left as it is`,
  };
}

/** Moves a directory the tool left at the link's path into the fork, in place of its sub-directory. */
async function capturePath(link: ForkLink, mountPath: string, target: string): Promise<'rename' | 'copy'> {
  const parent = link.subdir.split('/').slice(0, -1).join('/');
  await ensureForkDirectory(mountPath, parent);
  await removeForkTree(target);
  try {
    await rename(link.path, target);
    return 'rename';
  } catch (error) {
    if (errnoOf(error) !== 'EXDEV') throw error;
  }
  // Another filesystem: copy links as links, keep modes and times, then remove the original.
  await cp(link.path, target, {
    recursive: true,
    verbatimSymlinks: true,
    preserveTimestamps: true,
    errorOnExist: true,
    force: false,
  });
  await rm(link.path, { recursive: true, force: true });
  return 'copy';
}
