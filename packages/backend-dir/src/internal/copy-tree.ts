import { constants } from 'node:fs';
import { chmod, copyFile, lchown, link, lutimes, mkdir, readlink, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '@cachevol/core';
import { inodeKey, type TreeEntry, walkTree } from './walk.js';

/** How file data is copied: a reflink that may fall back, a reflink or nothing, or bytes. */
export type CloneMode = 'clone-or-copy' | 'clone' | 'copy';

/** Options for {@link copyTree}. */
export interface CopyTreeOptions {
  /** How file data is copied. */
  clone: CloneMode;
  /** Called with bytes done and total: once at the start, about every 1%, and at the end. */
  onProgress?: ((progress: Progress) => void) | undefined;
}

/** What {@link copyTree} copied. */
export interface CopyTreeResult {
  /** Bytes of file data (hard-linked files once). */
  bytes: number;
  /** Special files (sockets, FIFOs, devices) left out. */
  skipped: number;
}

/** Copies running at once. */
const PARALLEL = 16;

const COPY_FLAGS: Record<CloneMode, number> = {
  'clone-or-copy': constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE,
  clone: constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE,
  copy: constants.COPYFILE_EXCL,
};

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs `work` over `items`, {@link PARALLEL} at a time; after a failure, starts nothing new and waits for what runs. */
async function runPool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      await work(item).catch((error: unknown) => {
        failed = true;
        throw error;
      });
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Copies a directory tree into a new directory `to` (which must not exist): directories,
 * regular files (reflinked when `clone` allows), symlinks (verbatim, never followed) and hard
 * links within the tree; modes, timestamps, and (when running as root) owners are kept.
 * Special files are left out. The walk never leaves `from`: symlinks are copied as links.
 *
 * A quick walk first measures the total, so progress reports `totalBytes`.
 *
 * @param from - the source directory
 * @param to - the destination, created by the copy
 * @param options - clone mode and progress callback
 */
export async function copyTree(from: string, to: string, options: CopyTreeOptions): Promise<CopyTreeResult> {
  const dirs: TreeEntry[] = [];
  const leaves: TreeEntry[] = [];
  let totalBytes = 0;
  let skipped = 0;
  const counted = new Set<string>();
  await walkTree(from, (entry) => {
    if (entry.type === 'dir') dirs.push(entry);
    else if (entry.type === 'other') skipped++;
    else leaves.push(entry);
    if (entry.type !== 'file') return;
    const key = inodeKey(entry.stats);
    if (entry.stats.nlink > 1 && counted.has(key)) return;
    counted.add(key);
    totalBytes += entry.stats.size;
  });

  let doneBytes = 0;
  let reported = -1;
  const step = Math.max(1, Math.floor(totalBytes / 100));
  const report = (force = false) => {
    if (!options.onProgress || (!force && doneBytes - reported < step)) return;
    reported = doneBytes;
    options.onProgress({ doneBytes, totalBytes });
  };
  report(true);

  const chown = isRoot();
  // Directories are created owner-writable first, so read-only ones can still be filled.
  for (const dir of dirs) await mkdir(join(to, dir.path), { mode: 0o700 });

  const firstCopy = new Map<string, Promise<string>>();
  const copyLeaf = async (entry: TreeEntry): Promise<void> => {
    const source = join(from, entry.path);
    const target = join(to, entry.path);
    const { stats } = entry;
    if (entry.type === 'symlink') {
      await symlink(await readlink(source), target);
      if (chown) await lchown(target, stats.uid, stats.gid);
      await lutimes(target, stats.atimeMs / 1000, stats.mtimeMs / 1000);
      return;
    }
    const key = inodeKey(stats);
    const first = stats.nlink > 1 ? firstCopy.get(key) : undefined;
    if (first) {
      await link(await first, target);
      return;
    }
    const copied = (async () => {
      await copyFile(source, target, COPY_FLAGS[options.clone]);
      if (chown) await lchown(target, stats.uid, stats.gid);
      await chmod(target, stats.mode & 0o7777);
      await utimes(target, stats.atimeMs / 1000, stats.mtimeMs / 1000);
      return target;
    })();
    if (stats.nlink > 1) firstCopy.set(key, copied);
    await copied;
    doneBytes += stats.size;
    report();
  };
  await runPool(leaves, copyLeaf);

  // Deepest first: a directory's modes and times are set after its contents are complete.
  for (const dir of dirs.reverse()) {
    const target = join(to, dir.path);
    if (chown) await lchown(target, dir.stats.uid, dir.stats.gid);
    await chmod(target, dir.stats.mode & 0o7777);
    await utimes(target, dir.stats.atimeMs / 1000, dir.stats.mtimeMs / 1000);
  }
  report(true);
  return { bytes: totalBytes, skipped };
}
