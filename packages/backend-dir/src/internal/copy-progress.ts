import { statfs } from 'node:fs/promises';
import type { Progress } from '@cachevol/core';
import { inodeKey, walkTree } from './walk.js';

/** What a tree holds, for progress. */
export interface TreeTotals {
  /** Bytes as usage counts them: regular files (each hard-linked inode once) and symlinks. */
  bytes: number;
  /** Bytes of disk blocks its files, symlinks and directories take (`st_blocks` × 512). */
  allocatedBytes: number;
}

/** Progress never reaches the total before the copy has ended. */
const MAX_FRACTION_WHILE_COPYING = 0.99;

/**
 * Measures a tree for progress reports: its bytes (counted like usage) and its allocated bytes.
 *
 * @param root - the tree's root directory
 */
export async function treeTotals(root: string): Promise<TreeTotals> {
  let bytes = 0;
  let allocatedBytes = 0;
  const seen = new Set<string>();
  await walkTree(root, ({ type, stats }) => {
    if (type === 'file' && stats.nlink > 1) {
      const key = inodeKey(stats);
      if (seen.has(key)) return;
      seen.add(key);
    }
    if (type === 'file' || type === 'symlink') bytes += stats.size;
    allocatedBytes += stats.blocks * 512;
  });
  return { bytes, allocatedBytes };
}

/**
 * Estimates the bytes copied so far from the space the copy has taken on the destination's
 * filesystem: the same fraction of the total as of the source's allocated bytes, never more
 * than 99% while copying, and never less than an earlier estimate.
 *
 * @param totals - the source's totals
 * @param allocatedSoFar - bytes the destination filesystem has lost since the copy began
 * @param previous - the last estimate
 */
export function estimateDone(totals: TreeTotals, allocatedSoFar: number, previous: number): number {
  if (totals.allocatedBytes <= 0 || allocatedSoFar <= 0) return previous;
  const fraction = Math.min(allocatedSoFar / totals.allocatedBytes, MAX_FRACTION_WHILE_COPYING);
  return Math.max(previous, Math.floor(fraction * totals.bytes));
}

/** Options for {@link startCopyProgress}. */
export interface CopyProgressOptions {
  /** The tree being copied. */
  source: string;
  /** An existing directory on the filesystem the copy writes to. */
  destinationDir: string;
  /** Receives the reports; an exception stops the copy (see {@link CopyProgress.onFailure}). */
  onProgress: (progress: Progress) => void;
  /** How often the destination is sampled. */
  intervalMs: number;
}

/** Reports the progress of a running copy; made by {@link startCopyProgress}. */
export interface CopyProgress {
  /**
   * Registers what to do when `onProgress` throws while sampling (stop the copy); the error is
   * then {@link CopyProgress.failure}.
   *
   * @param abort - called once, with the error
   */
  onFailure(abort: () => void): void;
  /** What `onProgress` threw while sampling, if it did. */
  readonly failure: { error: unknown } | undefined;
  /** Stops sampling (the copy failed). */
  stop(): void;
  /** Stops sampling and reports the total as done (the copy succeeded); rethrows a callback error. */
  finish(): Promise<void>;
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bfree * s.bsize;
}

/**
 * Starts reporting the progress of a copy that is about to begin: reports `{ doneBytes: 0,
 * totalBytes: null }` at once (an exception here means the copy should not start), measures the
 * source alongside the copy, and then, every `intervalMs`, reports an estimate (see
 * {@link estimateDone}) whenever it grew. Clones take almost no space, so a reflink copy's
 * estimate stays low until {@link CopyProgress.finish} reports the total.
 *
 * @param options - source, destination, callback, interval
 */
export async function startCopyProgress(options: CopyProgressOptions): Promise<CopyProgress> {
  const { onProgress } = options;
  const freeAtStart = await freeBytes(options.destinationDir);
  onProgress({ doneBytes: 0, totalBytes: null });
  let totals: TreeTotals | undefined;
  const measuring = treeTotals(options.source).then(
    (t) => {
      totals = t;
    },
    () => undefined, // the copy itself reports a source that vanished
  );
  let done = 0;
  let reportedTotal = false;
  let failure: { error: unknown } | undefined;
  let abort: (() => void) | undefined;
  let sampling = false;
  const sample = async () => {
    if (sampling || failure || !totals) return;
    sampling = true;
    try {
      const free = await freeBytes(options.destinationDir).catch(() => undefined);
      if (timer === undefined || free === undefined) return;
      const estimate = estimateDone(totals, freeAtStart - free, done);
      if (estimate > done || !reportedTotal) {
        done = estimate;
        reportedTotal = true;
        onProgress({ doneBytes: done, totalBytes: totals.bytes });
      }
    } catch (error) {
      failure = { error };
      stop();
      abort?.();
    } finally {
      sampling = false;
    }
  };
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(
    () => void sample(),
    options.intervalMs,
  );
  timer.unref();
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  return {
    onFailure(callback) {
      abort = callback;
    },
    get failure() {
      return failure;
    },
    stop,
    async finish() {
      stop();
      if (failure) throw failure.error;
      await measuring;
      if (totals) onProgress({ doneBytes: totals.bytes, totalBytes: totals.bytes });
    },
  };
}
