/**
 * The storage contract every backend implements, modelled on containerd's Snapshotter.
 *
 * ## Vocabulary
 * - **version**: an immutable, committed copy of a volume's files, named by a version id.
 * - **fork**: a private, writable copy of a version (or an empty one) that one job uses, named
 *   by a fork id. Forks never see each other's writes.
 * - **commit**: turns a fork into a new version (the fork id is then gone).
 * - **discard**: throws a fork away (what the engine does on abandon).
 * - **head**: the version committed last; a concept of the engine, not of the backend.
 *
 * ## Lifecycle
 * `createFork` or `forkVersion` → job writes under `mountPath` → `commitFork` (fork becomes a
 * version) or `discardFork`. Later `removeVersion` deletes a version, even when forks or
 * versions were made from it.
 *
 * ## Rules for every method
 * - Ids are made by the engine and validated with `validateId` before use; the backend never
 *   sees a user-supplied name. A bad id is `INVALID_ARGUMENT` and touches nothing.
 * - Every method is idempotent: calling it again after it succeeded, or after a crash part-way
 *   through, is safe and ends in the same state.
 * - Nothing runs through a shell: external tools are spawned with argument arrays.
 * - Failures are `CacheVolumeError`s (`CommandFailedError` for failed commands).
 *
 * ## Concurrency
 * - Calls may run at once, from one process or several sharing the backend. Calls on different
 *   fork ids never disturb each other, and one version may be forked by any number of calls at
 *   once.
 * - A version may be removed while a call forks it: that `forkVersion` either makes a whole
 *   fork (which keeps its data) or fails with `NOT_FOUND` and leaves nothing.
 * - The engine never runs two calls on one fork id at once (the fork's record is its lock), so
 *   a backend need not guard against that. Only a crash can make them overlap (a retry beside a
 *   command the dead process left running); idempotency then brings both to the same state.
 */
export interface Backend {
  /** Short name: `memory`, `dir`, `btrfs`, `zfs`, `sparsebundle`. */
  readonly name: string;
  /** What this backend can do; the engine reads these instead of probing methods. */
  readonly capabilities: BackendCapabilities;
  /**
   * The stream formats `sendVersion` writes and `receiveVersion` reads, its own first (only with
   * `capabilities.transfer`, and then always including `tar-zstd`).
   */
  readonly transferFormats?: readonly TransferFormat[];

  /**
   * Checks that the backend can work here and sets it up: its tools run, its root, pool or
   * layout exists, quotas are on where it enforces them. Idempotent, and safe to call at once
   * from several callers. Every other method works without it (each prepares what it needs);
   * call it to fail early, for example when a runner starts.
   * - Missing tools or an unusable root: `BACKEND_UNAVAILABLE` (or `BACKEND_FAILED`), saying
   *   what to install or fix.
   */
  ready(): Promise<void>;

  /**
   * Creates an empty fork.
   * - Duplicate id: returns the existing fork's mount (retry after a crash).
   *
   * @param forkId - the new fork's id
   * @param options - capacity and progress
   */
  createFork(forkId: string, options: ForkOptions): Promise<ForkMount>;

  /**
   * Creates a fork whose contents are those of a version.
   * - Duplicate fork id: returns the existing fork's mount.
   * - Missing version, or one whose data cannot be read: `NOT_FOUND`, nothing is created (the
   *   engine then passes the version over as lost).
   * - The version keeps existing and may be forked any number of times.
   *
   * @param forkId - the new fork's id
   * @param versionId - the version to copy
   * @param options - capacity and progress
   */
  forkVersion(forkId: string, versionId: string, options: ForkOptions): Promise<ForkMount>;

  /**
   * Commits a fork as a new, immutable version; the fork id stops existing. Flushes first.
   * - Already committed (version exists, fork gone): returns the version's usage.
   * - Both exist (a commit interrupted after the version was made): finishes the commit. The
   *   fork is thrown away and the version kept as it is, never replaced (a version is
   *   immutable, and version ids are never reused, so it holds what this fork held).
   * - Neither fork nor version exists: `NOT_FOUND`.
   *
   * @param forkId - the fork
   * @param versionId - the new version's id
   * @returns the version's used bytes
   */
  commitFork(forkId: string, versionId: string): Promise<Usage>;

  /**
   * Throws a fork away. Missing fork: does nothing.
   *
   * @param forkId - the fork
   */
  discardFork(forkId: string): Promise<void>;

  /**
   * Removes a version, even when forks or versions were made from it: those keep their data
   * (a backend whose clones depend on their origin defers the space reclaim until the last
   * dependent goes). Missing version: does nothing.
   *
   * @param versionId - the version
   */
  removeVersion(versionId: string): Promise<void>;

  /**
   * Bytes used by a fork or version.
   * - Missing id: `NOT_FOUND`.
   *
   * @param kind - `fork` or `version`
   * @param id - the id
   */
  usage(kind: EntryKind, id: string): Promise<Usage>;

  /**
   * Everything the backend holds, including half-built leftovers of interrupted operations
   * (listed under the id they were being built for), so `reconcile()` can remove what no
   * record owns.
   */
  list(): Promise<BackendEntry[]>;

  /**
   * Tells whether a fork differs from the version it was made from (or holds anything, for an
   * empty fork). Only present when `capabilities.changeDetection` is true; without it the
   * `on-change` commit mode always commits.
   *
   * @param forkId - the fork
   */
  hasChanges?(forkId: string): Promise<boolean>;

  /**
   * Writes a version as a stream that another host's backend can receive (only with
   * `capabilities.transfer`). With `baseId`, a version the receiver holds, the stream may carry
   * only what changed since it: the returned `baseId` says whether it does (`null`: a full
   * stream). A `baseId` this backend does not hold gives a full stream.
   * - Missing version: `NOT_FOUND`.
   * - A format not in `transferFormats`: `INVALID_ARGUMENT`.
   * - Stopping the iteration early (`break`, or `return()`) stops the sender and frees what it
   *   held. A failure part-way (the tool exits non-zero) is thrown by the iteration.
   *
   * @param versionId - the version to send
   * @param options - base version and format
   */
  sendVersion?(versionId: string, options?: SendOptions): Promise<VersionStream>;

  /**
   * Receives a version that another host sent (only with `capabilities.transfer`), under the
   * same version id. The version counts only once the whole stream has arrived and its sha256
   * matches `options.sha256`; until then it is under a scratch name, and any failure (a stream
   * cut short or corrupt, a digest that does not match, a tool that fails) removes what was
   * received, so a version is there whole or not at all. A crash leaves the scratch name, which
   * `list()` reports under the version id for `reconcile()` to remove.
   * - The version exists already: returns its usage and reads nothing (ids are never reused,
   *   so it holds the same data).
   * - An incremental stream whose base this backend does not hold (or holds with another
   *   lineage): `NOT_FOUND`, nothing made; send a full stream instead.
   * - A format not in `transferFormats`: `INVALID_ARGUMENT`.
   * - A digest that does not match: `BACKEND_FAILED` with `details.reason` `digest-mismatch`.
   *
   * @param versionId - the version's id (the one it has on the sending host)
   * @param stream - the bytes, as `sendVersion` produced them
   * @param options - format, base and the digest to check
   * @returns the received version's usage
   */
  receiveVersion?(
    versionId: string,
    stream: AsyncIterable<Uint8Array>,
    options: ReceiveOptions,
  ): Promise<Usage>;
}

/**
 * How a version is written as a stream: `tar-zstd` (a zstd-compressed tar of its files, which
 * every backend with `transfer` reads and writes, also between backends of different kinds),
 * `btrfs-send` (`btrfs send`, incremental with `-p`), `zfs-send` (`zfs send`, incremental with
 * `-i`).
 */
export type TransferFormat = 'tar-zstd' | 'btrfs-send' | 'zfs-send';

/** Options for {@link Backend.sendVersion}. */
export interface SendOptions {
  /** A version the receiver holds, to send only the difference from it where the format can. */
  baseId?: string;
  /**
   * The stream's format; one of the backend's `transferFormats`.
   * @defaultValue the first of `transferFormats` (the backend's own)
   */
  format?: TransferFormat;
}

/** A version written as a stream, from {@link Backend.sendVersion}. */
export interface VersionStream {
  /** The format it is in. */
  format: TransferFormat;
  /** The version it carries the difference from, or `null` when it is whole. */
  baseId: string | null;
  /** The bytes. */
  stream: AsyncIterable<Uint8Array>;
}

/** Options for {@link Backend.receiveVersion}. */
export interface ReceiveOptions {
  /** The stream's format, as the sender reported it. */
  format: TransferFormat;
  /** The version it is relative to, as the sender reported it, or `null`. */
  baseId: string | null;
  /**
   * The sha256 of the whole stream (lowercase hex), or a promise of it that settles once the
   * sender is done (a digest computed as the bytes went out, sent after them).
   */
  sha256: string | Promise<string>;
  /** Called as bytes arrive (`totalBytes` as the caller passes it, else `null`). */
  onProgress?: (progress: Progress) => void;
  /** The stream's length in bytes, when the caller knows it (for progress). */
  totalBytes?: number;
}

/** What a backend can do. */
export interface BackendCapabilities {
  /** Forks share unchanged data with their version instead of copying it. */
  copyOnWrite: boolean;
  /** Fork and commit take the same time whatever the volume's size. */
  constantTime: boolean;
  /** Capacity is enforced: writes past `capacityBytes` fail with ENOSPC or EDQUOT. */
  quota: boolean;
  /**
   * Versions can move between hosts: `sendVersion` and `receiveVersion` are implemented, in
   * the formats of {@link Backend.transferFormats}; so non-local versions may be selected.
   */
  transfer: boolean;
  /** `hasChanges()` is implemented. */
  changeDetection: boolean;
}

/** Options for creating a fork. */
export interface ForkOptions {
  /** The fork's capacity in bytes (enforced only where `capabilities.quota`). */
  capacityBytes: number;
  /** Called during long copies with bytes done and total (when known). */
  onProgress?: (progress: Progress) => void;
}

/** Progress of a long backend operation. */
export interface Progress {
  /** Bytes done so far. */
  doneBytes: number;
  /** Total bytes, or `null` when unknown. */
  totalBytes: number | null;
}

/** Where a fork can be used. */
export interface ForkMount {
  /** Path (or, for in-memory backends, a URI) where the fork's files are. */
  mountPath: string;
}

/**
 * Space in use by a fork or version: the engine records a version's figure, and a fork of it
 * gets that many bytes plus the requested size as its capacity.
 *
 * What is counted is the space its files take as the filesystem accounts it, **including data
 * shared with other forks and versions**: what a full copy would need, not what removing it
 * would free (btrfs qgroup `referenced`, ZFS `referenced`, allocated blocks of a directory tree
 * or an image). So a fresh fork of a version reports about the version's size, not zero. It
 * may differ from the files' length by metadata, block rounding, holes and compression.
 *
 * A version's figure from `usage()` is exact once it is committed (`commitFork` may estimate;
 * see {@link Usage.estimated}). A fork's may lag writes of the last few
 * seconds on filesystems that account them when their transaction commits (ZFS).
 */
export interface Usage {
  /** Bytes used. */
  usedBytes: number;
  /**
   * `true` when `usedBytes` is an estimate rather than a measurement: a backend for which the
   * exact figure costs time in proportion to the number of files (btrfs without quotas)
   * returns an estimate from `commitFork` and measures in `usage()`, which the engine's `gc()`
   * calls for such versions before it weighs sizes. Absent means measured.
   */
  estimated?: boolean;
}

/** `fork` or `version`. */
export type EntryKind = 'fork' | 'version';

/** One thing a backend holds. */
export interface BackendEntry {
  /** What it is. */
  kind: EntryKind;
  /** Its id. */
  id: string;
}
