import type { ForkRecord, VolumeKey, VolumeSlice } from '../model/state.js';

/**
 * Where the model's state lives, one volume at a time. Implementations: the memory store in
 * core ({@link createMemoryStore}, one process), `@cachevol/store-sqlite` (one host, shared by
 * its processes) and `@cachevol/store-postgres` (a fleet of hosts).
 *
 * ## The unit: a volume's slice
 * Every change goes through {@link Store.transact}: it loads one volume's {@link VolumeSlice}
 * (the volume's record with its versions, and its forks), calls a pure function, and writes
 * back what the function returned, atomically, with no other change to that volume in between,
 * across every process and host sharing the store. Work on different volumes never waits on
 * one lock, and the cost of a transaction does not grow with the number of volumes.
 *
 * ## Rules for every store
 * - A function that throws changes nothing; the error reaches the caller as it was thrown.
 * - Functions must be pure: a store may call one again (after a serialisation failure).
 * - Nothing returned aliases stored state: changing a returned object never changes the store
 *   (stores return fresh copies or frozen objects).
 * - A writer that stalls (a paused process, a lost connection) never overwrites an update that
 *   another writer made after it began: its own update fails instead.
 * - A crash in the middle of a transaction leaves the state as it was before it.
 * - Failures of the store itself are `STORE_FAILED` errors that name what to check.
 *
 * `describeStoreConformance` in `@cachevol/core/testing` checks all of this.
 */
export interface Store {
  /** Short name: `memory`, `sqlite`, `postgres`. */
  readonly name: string;

  /**
   * Reads one volume's slice as of now: its record and its live forks (an empty slice when the
   * volume does not exist).
   *
   * @param key - the volume
   */
  read(key: VolumeKey): Promise<VolumeSlice>;

  /**
   * Atomically replaces one volume's slice with what `fn` returns.
   *
   * `fn` sees the volume's record and its live forks, plus the ended forks named in
   * `options.forks`. In the slice it returns: a changed or new fork is written; a fork left out
   * is kept as it was (forks are deleted only by {@link Store.pruneForks}); `volume: null`
   * deletes the volume's record and versions.
   *
   * @param key - the volume
   * @param fn - gets the current slice, returns the next one and a value for the caller
   * @param options - ended forks to load, durability
   * @returns the value `fn` returned
   */
  transact<T>(key: VolumeKey, fn: SliceFunction<T>, options?: TransactOptions): Promise<T>;

  /**
   * Finds a fork by id, live or ended (until pruned), in any volume.
   *
   * @param forkId - the fork's id
   * @returns the fork, or `null`
   */
  findFork(forkId: string): Promise<ForkRecord | null>;

  /**
   * Lists volumes in `(scope, name)` order, a page at a time, each as its slice (record and
   * live forks). Pass the returned `next` as `after` to get the following page; `next` is
   * `null` on the last page. Each page is read on its own: a volume created or dropped while
   * paging may or may not appear.
   *
   * @param options - where to start, and the page size
   */
  listVolumes(options?: ListVolumesOptions): Promise<VolumePage>;

  /**
   * Claims due work without colliding with other reconcilers: for each volume (up to `limit`)
   * that has an intent due at `now` (see `sliceSchedule`), runs `fn` on its slice atomically,
   * the same way {@link Store.transact} does (a store may run the volumes of one call in one
   * transaction, so a throwing `fn` may undo the claims of that call made before it). A volume whose rows another
   * transaction holds is skipped, not waited for, where the store can tell (PostgreSQL's
   * `SKIP LOCKED`); `fn` must itself check that what it claims is still due, and record the
   * claim (a new lease) so the next claimer passes it over.
   *
   * @param query - the time, whether every intent counts (`force`), and how many volumes
   * @param fn - the claim, as a pure function of the slice
   * @returns what `fn` returned, per volume visited
   */
  claimDue<T>(query: DueQuery, fn: SliceFunction<T>): Promise<T[]>;

  /**
   * Deletes the records of forks that ended (committed or abandoned) before `endedBefore`.
   *
   * @param endedBefore - cut-off time (ms since epoch)
   * @returns how many were deleted
   */
  pruneForks(endedBefore: number): Promise<number>;

  /** Releases connections and file handles. Calls after `close()` fail with `STORE_FAILED`. */
  close(): Promise<void>;
}

/** A pure function a {@link Store} applies to one volume's slice. */
export type SliceFunction<T> = (slice: VolumeSlice) => SliceUpdate<T>;

/** What a {@link SliceFunction} returns. */
export interface SliceUpdate<T> {
  /** The next slice (return the same object to change nothing). */
  slice: VolumeSlice;
  /** A value for the caller. */
  result: T;
}

/** Options of {@link Store.transact}. */
export interface TransactOptions {
  /** Ended forks to load into the slice besides the live ones (to report a late commit clearly). */
  forks?: readonly string[];
  /**
   * Wait until the change is on stable storage before returning (an fsync, a synchronous
   * commit). The engine asks for it where losing the change to a power cut would lose data: a
   * commit's outcome and a removal's intent. Other writes may be flushed a little later.
   * @defaultValue false
   */
  durable?: boolean;
}

/** Options of {@link Store.listVolumes}. */
export interface ListVolumesOptions {
  /** The `next` cursor of the previous page; omit for the first page. */
  after?: string | null;
  /**
   * Volumes per page.
   * @defaultValue 100
   */
  limit?: number;
}

/** One page of {@link Store.listVolumes}. */
export interface VolumePage {
  /** The volumes of this page, in `(scope, name)` order. */
  slices: VolumeSlice[];
  /** The cursor of the next page, or `null` after the last one. */
  next: string | null;
}

/** Which volumes {@link Store.claimDue} visits. */
export interface DueQuery {
  /** The current time (ms since epoch): volumes whose `dueAt` is at or before it are due. */
  now: number;
  /** Also visit every volume that has an intent in flight, whatever its lease. */
  force?: boolean;
  /** Most volumes to visit. */
  limit: number;
}

/**
 * When a slice next needs a reconciler, which stores keep beside it (an indexed column) so that
 * {@link Store.claimDue} finds due volumes without reading every volume.
 */
export interface SliceSchedule {
  /**
   * The earliest lease end among the slice's live forks and removing versions, or `null` when
   * there are none.
   */
  dueAt: number | null;
  /** Whether an operation is in flight: a fork creating, committing or abandoning, or a version removing. */
  hasIntent: boolean;
}

/** Default page size of {@link Store.listVolumes}. */
export const DEFAULT_PAGE_SIZE = 100;
