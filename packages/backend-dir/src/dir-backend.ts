import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import {
  type Backend,
  type BackendCapabilities,
  type BackendEntry,
  CacheVolumeError,
  type EntryKind,
  type ForkMount,
  parseOptions,
  type Usage,
} from '@cachevol/core';
import {
  defineBackend,
  errnoCode,
  extractTarZstd,
  isDirectory,
  isIdName,
  notFound as kitNotFound,
  versionExists as kitVersionExists,
  namesIn,
  tarZstdStream,
  verifiedInput,
} from '@cachevol/core/backend-kit';
import { hasEntries, treesDiffer } from './internal/compare-trees.js';
import { type CloneMode, copyTree, unreadableSource } from './internal/copy-tree.js';
import { fsFailure } from './internal/errors.js';
import { Layout, parseScratchName } from './internal/layout.js';
import { fsyncPath, measureTree, smallTree } from './internal/measure.js';

import { prepareRoot } from './internal/prepare-root.js';
import { probeReflink } from './internal/reflink.js';
import { removeTree } from './internal/remove-tree.js';
import { syncFilesystem } from './internal/sync-filesystem.js';
import { type DirBackendOptions, dirBackendOptionsSchema } from './options.js';

/** The dir backend: a {@link Backend} over plain directories under {@link DirBackend.root}. */
export interface DirBackend extends Backend {
  /** Always `"dir"`. */
  readonly name: 'dir';
  /** The canonical absolute root directory. */
  readonly root: string;
  /**
   * Tells whether a fork differs from the version it was made from (or, for an empty fork,
   * holds anything), comparing paths, types, permissions, owners, sizes, modification times
   * and symlink targets. A fork whose version was removed counts as changed.
   *
   * @param forkId - the fork
   * @throws `NOT_FOUND` when the fork does not exist
   */
  hasChanges(forkId: string): Promise<boolean>;
}

/**
 * A fork with at most this many entries is flushed at commit by an `fsync` per file and
 * directory, in this process: a few `fsync`s cost less than starting `sync -f`. A larger one
 * gets one `syncfs` (`sync -f`), much faster than an `fsync` per file on trees with many files.
 */
const FSYNC_EACH_MAX_ENTRIES = 64;

/** Errors that mean the filesystem has no room, not even for a rename. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** Runs file-system work, turning raw errors into `BACKEND_FAILED` that say what and where. */
async function guard<T>(action: string, path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fsFailure(action, path, error);
  }
}

/**
 * Creates the plain-directory backend: versions and forks are directories under `root`
 * (`versions/<id>`, `forks/<id>`, with `tmp/` and `trash/` for half-built and half-removed
 * ones). A fork of a version is a copy made by the system's `cp -a` (GNU coreutils on Linux)
 * that uses reflinks where the filesystem supports them (btrfs, XFS, APFS), so it shares data
 * with its version, and a full copy elsewhere. It keeps what a regular filesystem holds: symlinks
 * verbatim (never followed), hard links, device files, FIFOs, sockets, extended attributes
 * (such as overlayfs's `trusted.overlay.*`), holes of sparse files, modes, owners and timestamps.
 * Commit renames the fork into `versions/` after flushing it. Needs no root privileges (without
 * root, owners, device files and `trusted.*` attributes cannot be kept). It flushes a fork of
 * up to 64 entries with an `fsync` per file and directory; a larger one, on Linux, with
 * `sync -f` (one `syncfs`) when that works, and with an `fsync` per file otherwise.
 *
 * Capabilities: `copyOnWrite` is true exactly when forks use reflinks (probed once, here);
 * `quota` is false (capacity is not enforced); `constantTime` is false (copies, usage and the
 * commit flush walk the tree); `changeDetection` is true (`hasChanges` compares metadata).
 *
 * @param options - `root` and `reflink` (see {@link DirBackendOptions})
 * @throws `INVALID_ARGUMENT` for bad options; `BACKEND_UNAVAILABLE` when the root is a file or
 *   not writable, when one of its areas is not a real directory (a symlink, say), or when
 *   `reflink: 'always'` and the filesystem cannot clone. A `cp` that is not GNU coreutils' (off
 *   macOS) is found when a copy fails, which is then `BACKEND_UNAVAILABLE` saying what to install.
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({
 *   backend: createDirBackend({ root: '/var/lib/cachevol/volumes' }),
 *   store: createSqliteStore({ path: '/var/lib/cachevol/state.db' }),
 * })
 * ```
 */
export function createDirBackend(options: DirBackendOptions): DirBackend {
  const opts = parseOptions(dirBackendOptionsSchema, options, 'createDirBackend options');
  const layout = new Layout(prepareRoot(opts.root));
  const canClone = opts.reflink !== 'never' && probeReflink(layout.area('tmp'));
  if (opts.reflink === 'always' && !canClone) {
    throw new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `The filesystem holding ${layout.root} cannot clone files (reflink), and reflink is "always". Put the root on btrfs, XFS (mkfs.xfs -m reflink=1) or APFS, or use reflink "auto".`,
      { details: { root: layout.root } },
    );
  }
  const clone: CloneMode = !canClone ? 'copy' : opts.reflink === 'always' ? 'clone' : 'clone-or-copy';
  const capabilities: BackendCapabilities = Object.freeze({
    copyOnWrite: canClone,
    constantTime: false,
    quota: false,
    transfer: true,
    changeDetection: true,
  });

  let canSyncFs = true;

  const notFound = (kind: EntryKind, id: string): never =>
    kitNotFound('dir', kind, id, { where: layout.root, details: { root: layout.root } });

  /** Builds a fork in `tmp/` and renames it into place; a retry returns the existing fork. */
  const buildFork = async (
    forkId: string,
    baseId: string | null,
    action: string,
    build: (tmp: string) => Promise<unknown>,
  ): Promise<ForkMount> => {
    const mountPath = layout.entry('fork', forkId);
    if (await isDirectory(mountPath)) return { mountPath };
    const tmp = layout.scratch('tmp', 'fork', forkId);
    try {
      await build(tmp);
      await writeFile(layout.base(forkId), baseId ?? '');
      await rename(tmp, mountPath);
    } catch (error) {
      await removeTree(tmp).catch(() => undefined);
      // Another caller finished the same fork first: theirs is as good as ours.
      if (await isDirectory(mountPath)) {
        const code = errnoCode(error);
        if (code === 'EEXIST' || code === 'ENOTEMPTY') return { mountPath };
      } else {
        await rm(layout.base(forkId), { force: true }).catch(() => undefined);
      }
      throw fsFailure(action, tmp, error);
    }
    // No flush here: a fork needs none. Its files are not flushed either (cp does not), so after
    // a power loss a fork is untrustworthy whatever its directory says; its job died with the
    // host, and the engine abandons it. Commit flushes everything before it makes a version.
    return { mountPath };
  };

  /**
   * Moves a path into `trash/`. On a full filesystem, where even a rename can fail (a directory
   * that needs a new block, btrfs metadata), it deletes the path where it is instead, so the
   * space comes back now. A missing path is fine.
   */
  const toTrash = async (path: string, kind: EntryKind, id: string): Promise<void> => {
    try {
      await rename(path, layout.scratch('trash', kind, id));
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') return;
      if (code === undefined || !NO_SPACE.has(code)) throw error;
      await removeTree(path);
    }
  };

  /**
   * Flushes a tree that is about to become a version (a fork, or a received version), and
   * measures it: an `fsync` per file and directory of a small tree, one `syncfs` for a larger one
   * (an `fsync` per file where `syncfs` cannot be run).
   */
  const flushAndMeasure = async (path: string): Promise<number> => {
    const small = canSyncFs ? await smallTree(path, FSYNC_EACH_MAX_ENTRIES) : null;
    if (small) {
      for (const { path: entry, isDirectory } of small.flush) await fsyncPath(entry, isDirectory);
      return small.usedBytes;
    }
    const synced = canSyncFs ? await syncFilesystem(path) : 'unsupported';
    if (synced === 'unsupported') canSyncFs = false;
    return measureTree(path, { fsync: synced !== 'synced' });
  };

  /** Moves an entry and its half-built leftovers into `trash/`, then deletes them. */
  const destroy = async (kind: EntryKind, id: string): Promise<void> => {
    const path = layout.entry(kind, id);
    await guard(`removing ${kind} ${id}`, path, async () => {
      await toTrash(path, kind, id);
      for (const name of await namesIn(layout.area('tmp'))) {
        const owner = parseScratchName(name);
        if (owner?.kind === kind && owner.id === id) await toTrash(`${layout.area('tmp')}/${name}`, kind, id);
      }
      if (kind === 'fork') await rm(layout.base(id), { force: true });
      for (const name of await namesIn(layout.area('trash'))) {
        const owner = parseScratchName(name);
        if (owner?.kind === kind && owner.id === id) await removeTree(`${layout.area('trash')}/${name}`);
      }
    });
  };

  // Ids and capacities are checked by defineBackend before any of these run.
  return defineBackend<DirBackend>({
    name: 'dir',
    root: layout.root,
    capabilities,

    async createFork(forkId) {
      return buildFork(forkId, null, `creating fork ${forkId}`, (tmp) => mkdir(tmp));
    },

    async forkVersion(forkId, versionId, forkOptions) {
      const mountPath = layout.entry('fork', forkId);
      if (await isDirectory(mountPath)) return { mountPath };
      const source = layout.entry('version', versionId);
      if (!(await isDirectory(source))) notFound('version', versionId);
      try {
        return await buildFork(
          forkId,
          versionId,
          `copying version ${versionId} into fork ${forkId}`,
          async (tmp) => {
            await copyTree(source, tmp, { clone, onProgress: forkOptions?.onProgress });
            // The version was swapped for a symlink meanwhile: cp copied the link, not a tree.
            if (!(await isDirectory(tmp))) notFound('version', versionId);
          },
        );
      } catch (error) {
        // The version was removed while it was being copied.
        if (!(await isDirectory(source)) && !(await isDirectory(mountPath))) notFound('version', versionId);
        const unreadable = unreadableSource(error, source);
        if (unreadable) {
          throw new CacheVolumeError(
            'NOT_FOUND',
            `The dir backend cannot read version ${versionId}: ${unreadable}. Its data is unusable; it is passed over.`,
            { cause: error, details: { versionId, unreadable: true } },
          );
        }
        throw error;
      }
    },

    async commitFork(forkId, versionId): Promise<Usage> {
      const fork = layout.entry('fork', forkId);
      const version = layout.entry('version', versionId);
      const measureVersion = async (): Promise<Usage> => ({
        usedBytes: await guard(`measuring version ${versionId}`, version, () => measureTree(version)),
      });
      const [forkExists, versionExists] = await Promise.all([isDirectory(fork), isDirectory(version)]);
      if (!forkExists) {
        if (!versionExists) notFound('fork', forkId);
        return measureVersion();
      }
      // A rename commits, atomically: a version beside the fork is another fork's.
      if (versionExists) kitVersionExists(forkId, versionId, { root: layout.root });
      try {
        // Flush before the rename makes it a version.
        const usedBytes = await flushAndMeasure(fork);
        // Forget the base first: a crash in between leaves a fork that reports changes.
        await rm(layout.base(forkId), { force: true });
        await rename(fork, version);
        await fsyncPath(layout.area('versions'), true);
        await fsyncPath(layout.area('forks'), true);
        return { usedBytes };
      } catch (error) {
        // Another caller (a reconcile) committed the same fork meanwhile.
        if (!(await isDirectory(fork)) && (await isDirectory(version))) return measureVersion();
        throw fsFailure(`committing fork ${forkId} as version ${versionId}`, fork, error);
      }
    },

    async discardFork(forkId) {
      await destroy('fork', forkId);
    },

    async removeVersion(versionId) {
      await destroy('version', versionId);
    },

    async usage(kind, id): Promise<Usage> {
      const path = layout.entry(kind, id);
      if (!(await isDirectory(path))) notFound(kind, id);
      return { usedBytes: await guard(`measuring ${kind} ${id}`, path, () => measureTree(path)) };
    },

    async hasChanges(forkId) {
      const fork = layout.entry('fork', forkId);
      if (!(await isDirectory(fork))) notFound('fork', forkId);
      return guard(`comparing fork ${forkId} with its version`, fork, async () => {
        const baseId = await readFile(layout.base(forkId), 'utf8').catch((error: unknown) => {
          if (errnoCode(error) === 'ENOENT') return undefined;
          throw error;
        });
        if (baseId === '') return hasEntries(fork);
        if (baseId === undefined || !isIdName(baseId)) return true; // base unknown: assume changed
        const version = layout.entry('version', baseId);
        if (!(await isDirectory(version))) return true; // base removed: nothing to compare with
        return treesDiffer(version, fork);
      });
    },

    transferFormats: ['tar-zstd'],

    async sendVersion(versionId) {
      const version = layout.entry('version', versionId);
      if (!(await isDirectory(version))) notFound('version', versionId);
      // Always whole: plain directories keep no record of what changed since a base.
      return { format: 'tar-zstd', baseId: null, stream: tarZstdStream(version) };
    },

    async receiveVersion(versionId, stream, receiveOptions): Promise<Usage> {
      const version = layout.entry('version', versionId);
      const measureVersion = async (): Promise<Usage> => ({
        usedBytes: await guard(`measuring version ${versionId}`, version, () => measureTree(version)),
      });
      if (await isDirectory(version)) return measureVersion();
      // A tar stream is whole whatever the base: an incremental one is never sent (see above).
      const tmp = layout.scratch('tmp', 'version', versionId);
      const checked = verifiedInput(stream, receiveOptions);
      try {
        await mkdir(tmp);
        await extractTarZstd(tmp, checked.input);
        await checked.verify(`version ${versionId}`);
        const usedBytes = await flushAndMeasure(tmp);
        await rename(tmp, version);
        await fsyncPath(layout.area('versions'), true);
        return { usedBytes };
      } catch (error) {
        await removeTree(tmp).catch(() => undefined);
        // Received by another caller meanwhile: theirs is the same version.
        if (await isDirectory(version)) return measureVersion();
        throw error;
      }
    },

    async list(): Promise<BackendEntry[]> {
      const found = new Map<string, BackendEntry>();
      const add = (kind: EntryKind, id: string) => found.set(`${kind}:${id}`, { kind, id });
      await guard('listing', layout.root, async () => {
        for (const name of await namesIn(layout.area('versions'))) if (isIdName(name)) add('version', name);
        for (const name of await namesIn(layout.area('forks'))) if (isIdName(name)) add('fork', name);
        for (const area of ['tmp', 'trash'] as const) {
          for (const name of await namesIn(layout.area(area))) {
            const owner = parseScratchName(name);
            if (owner) add(owner.kind, owner.id);
          }
        }
      });
      return [...found.values()];
    },
  });
}
