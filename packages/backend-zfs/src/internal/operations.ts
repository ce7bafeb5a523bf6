import { access, mkdir, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  type BackendCapabilities,
  type BackendEntry,
  CacheVolumeError,
  CommandFailedError,
  type EntryKind,
  type ForkMount,
  type Usage,
} from '@cachevol/core';
import {
  BackgroundWork,
  defineBackend,
  notFound as kitNotFound,
  once,
  versionExists,
} from '@cachevol/core/backend-kit';
import type { ZfsSettings } from '../options.js';
import type { ZfsBackend } from '../types.js';
import { createLayoutArgs, destroyArgs, getArgs, snapshotArgs, TREE_PROPERTIES } from './commands.js';
import {
  DELETED_PROPERTY,
  forkDataset,
  type Layout,
  layoutOf,
  REMOVED_PREFIX,
  removedMarkName,
  snapshotOf,
  versionDataset,
} from './layout.js';
import {
  isZfsFailure,
  processStreams,
  retryingWhenBusy,
  type ZfsFailure,
  type ZfsRunner,
  type ZfsStreams,
} from './runner.js';
import { zfsTransfer } from './transfer.js';
import {
  collectable,
  entriesOf,
  isLiveVersion,
  parseProperties,
  parseTree,
  scratchOf,
  type Tree,
  unfiledVersion,
  versionSnapshot,
} from './tree.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  copyOnWrite: true,
  constantTime: true,
  quota: true,
  transfer: true,
  changeDetection: false,
});

function notFound(kind: EntryKind, id: string, root: string): never {
  return kitNotFound('zfs', kind, id, { where: root, details: { dataset: root } });
}

/** Reads a byte count from `zfs get -H -p` output, or fails saying what came instead. */
function bytesOf(output: string, dataset: string, property: string): number {
  const raw = parseProperties(output).get(dataset)?.get(property);
  const value = Number(raw);
  if (raw === undefined || raw === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new CacheVolumeError('BACKEND_FAILED', `Unexpected \`${property}\` value for ${dataset}: ${raw}.`, {
      details: { dataset, output },
    });
  }
  return value;
}

/**
 * The ZFS backend over a given command runner (tests pass one that simulates crashes).
 *
 * The hot paths try the command first and read the dataset tree only when it fails: a fork is
 * one `zfs clone -o refquota=` (or `zfs create -o refquota=`) straight to `forks/<id>`, which
 * ZFS makes, sets up and mounts in one command, so a half-done fork is a fork that `list()`
 * reports and a retry finishes; "dataset already exists" is a retry (the existing fork is
 * returned), "does not exist" sends it to the careful path. A commit is one `zfs snapshot -o
 * cachevol:version=<id>` of the fork (its size read with `statfs`, no command); the fork is
 * then filed into `versions/` (unmount, rename) after the commit returned, and until then, or
 * when that was cut short, its snapshot is the version. A failed snapshot (the fork is gone, or
 * a previous attempt left its snapshot) sends the commit to the careful path, which reads the
 * tree and does only what is missing. The layout datasets and the forks' mount root are read
 * (and made) once per backend object. A removed version is marked with
 * {@link DELETED_PROPERTY} and destroyed once no clone depends on it.
 *
 * @param settings - parsed options
 * @param runner - runs `zfs`
 * @param streams - runs `zfs send` and `zfs receive` (by default the real `zfs`)
 */
export function createZfsBackendWith(
  settings: ZfsSettings,
  runner: ZfsRunner,
  streams: ZfsStreams = processStreams(settings.zfsPath),
): ZfsBackend {
  const layout: Layout = layoutOf(settings.dataset);
  const busyRetrying = retryingWhenBusy(runner);
  const zfs = (args: readonly string[]) => busyRetrying.run(args);

  /** Reads every dataset under the parent; the parent must exist. */
  const readTree = async (): Promise<Tree> => {
    try {
      return parseTree(await zfs(getArgs([layout.root], TREE_PROPERTIES, true)));
    } catch (error) {
      if (isZfsFailure(error, 'missing')) {
        throw new CacheVolumeError(
          'BACKEND_UNAVAILABLE',
          `The ZFS dataset "${layout.root}" does not exist: create it (\`zfs create -p ${layout.root}\`) or set the \`dataset\` option to an existing filesystem.`,
          { cause: error, details: { dataset: layout.root } },
        );
      }
      throw error;
    }
  };

  const readRoot = async (): Promise<Tree> => {
    const tree = await readTree();
    const type = tree.get(layout.root)?.type;
    if (type !== 'filesystem') {
      throw new CacheVolumeError(
        'BACKEND_UNAVAILABLE',
        `The ZFS dataset "${layout.root}" is a ${type ?? 'missing dataset'}, not a filesystem: set the \`dataset\` option to a filesystem.`,
        { details: { dataset: layout.root, type } },
      );
    }
    return tree;
  };

  /** Runs a command whose work may already be done (by a retry or a concurrent caller). */
  const tolerate = async (args: readonly string[], ...already: ZfsFailure[]) => {
    try {
      await zfs(args);
    } catch (error) {
      if (!already.some((failure) => isZfsFailure(error, failure))) throw error;
    }
  };

  /** Creates `versions/` (unmounted) when missing. */
  const ensureVersionsArea = async (tree?: Tree): Promise<void> => {
    if (!tree?.has(layout.versions)) await tolerate(createLayoutArgs(layout.versions, 'none'), 'exists');
  };

  /**
   * Creates `forks/` when missing, mounted under `mountRoot` or the parent; checks it.
   *
   * @returns the directory forks are mounted under (`forks/<id>` inherits `<it>/<id>`)
   */
  const ensureForksArea = async (tree: Tree): Promise<string> => {
    const forks = tree.get(layout.forks);
    if (forks) {
      if (settings.mountRoot !== undefined && forks.mountpoint !== settings.mountRoot) {
        throw new CacheVolumeError(
          'INVALID_ARGUMENT',
          `Option \`mountRoot\` is ${settings.mountRoot}, but the forks of ${layout.root} are mounted under ${forks.mountpoint}: pass that as \`mountRoot\`, or move them with \`zfs set mountpoint=${settings.mountRoot} ${layout.forks}\` while no fork is in use.`,
          { details: { mountRoot: settings.mountRoot, current: forks.mountpoint } },
        );
      }
      if (!forks.mountpoint?.startsWith('/')) {
        throw new CacheVolumeError(
          'BACKEND_FAILED',
          `${layout.forks} has mountpoint=${forks.mountpoint ?? 'none'}, so forks cannot be mounted: give it a mountpoint (\`zfs set mountpoint=<dir> ${layout.forks}\`) or set the \`mountRoot\` option.`,
          { details: { dataset: layout.forks, mountpoint: forks.mountpoint } },
        );
      }
      return forks.mountpoint;
    }
    const inherited = tree.get(layout.root)?.mountpoint;
    if (settings.mountRoot === undefined && !inherited?.startsWith('/')) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `The ZFS dataset "${layout.root}" has mountpoint=${inherited ?? 'none'}, so forks cannot be mounted under it: set the \`mountRoot\` option to a directory for them.`,
        { details: { dataset: layout.root, mountpoint: inherited } },
      );
    }
    await tolerate(createLayoutArgs(layout.forks, settings.mountRoot), 'exists');
    return settings.mountRoot ?? posix.join(inherited as string, 'forks');
  };

  /**
   * Checks the parent, makes `forks/` and `versions/` and finds where forks are mounted: one
   * tree read, then nothing more for the lifetime of the backend object (the layout datasets
   * are never destroyed; a command that finds one missing starts this again).
   */
  const forksMountRoot = once(async (): Promise<string> => {
    const tree = await readRoot();
    const mountRoot = await ensureForksArea(tree);
    await ensureVersionsArea(tree);
    // Each removed version has its mark (a process may have died between the two steps), and
    // a mark whose version is gone goes too.
    const versions = [...tree].filter(
      ([name, info]) => info.type === 'filesystem' && name.startsWith(`${layout.versions}/`),
    );
    await mkdir(mountRoot, { recursive: true }); // there even while `forks/` is not mounted
    const marks = (await readdir(mountRoot)).filter((name) => name.startsWith(REMOVED_PREFIX));
    const present = new Set(versions.map(([name]) => removedMarkName(name)));
    await Promise.all([
      ...versions
        .filter(([, info]) => info.deleted)
        .map(([name]) => writeFile(posix.join(mountRoot, removedMarkName(name)), '')),
      ...marks
        .filter((name) => !present.has(name))
        .map((name) => rm(posix.join(mountRoot, name), { force: true })),
    ]);
    return mountRoot;
  });

  /** Raises `CAPACITY_EXCEEDED` when ZFS refused a fork's refquota as too small. */
  const capacityRefused = (error: unknown, forkId: string, capacityBytes: number): never => {
    if (isZfsFailure(error, 'out-of-space')) {
      throw new CacheVolumeError(
        'CAPACITY_EXCEEDED',
        `Fork "${forkId}" cannot get a capacity of ${capacityBytes} bytes: its contents already take more, or the pool is full.`,
        { cause: error, details: { forkId, capacityBytes } },
      );
    }
    throw error;
  };

  /**
   * The mount of a fork that exists already (a retry, or a `clone`/`create` that made the fork
   * but failed after, such as "created, but not mounted"): one `zfs get`, then whatever is
   * missing: the mount, and the refquota (OpenZFS sets `-o` properties just after creating
   * the dataset, so a power loss in between can leave a fork without one).
   *
   * @param cause - the error that led here; thrown instead when the fork does not exist
   */
  const existingFork = async (forkId: string, capacityBytes: number, cause?: unknown): Promise<ForkMount> => {
    const dataset = forkDataset(layout, forkId);
    let values: Map<string, string> | undefined;
    try {
      const output = await zfs(getArgs([dataset], ['mountpoint', 'mounted', 'refquota']));
      values = parseProperties(output).get(dataset);
    } catch (error) {
      if (cause !== undefined && isZfsFailure(error, 'missing')) throw cause;
      throw error;
    }
    const mountpoint = values?.get('mountpoint');
    if (!mountpoint?.startsWith('/')) {
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `Fork dataset ${dataset} has mountpoint=${mountpoint ?? 'none'}: give ${layout.forks} a mountpoint (or set the \`mountRoot\` option).`,
        { details: { dataset, mountpoint } },
      );
    }
    if (values?.get('refquota') === '0') {
      await zfs(['set', `refquota=${capacityBytes}`, dataset]).catch((error: unknown) =>
        capacityRefused(error, forkId, capacityBytes),
      );
    }
    if (values?.get('mounted') !== 'yes') await tolerate(['mount', dataset], 'mounted');
    return { mountPath: mountpoint };
  };

  /** Unmounts (if mounted) and destroys a fork (or a half-built copy of one). */
  const destroyFork = async (dataset: string, mounted: boolean): Promise<void> => {
    if (mounted) await tolerate(['unmount', dataset], 'not-mounted', 'missing');
    await tolerate(destroyArgs(dataset), 'missing');
  };

  /**
   * Makes a fork with one command straight at `forks/<id>`: `zfs clone`/`create` with
   * `-o refquota=` creates, sets up and mounts it, and a success means it is mounted at
   * `<forks mountpoint>/<id>`. Failures are mapped, reading as little as possible.
   *
   * @param make - the command for a fork dataset
   * @param onMissing - on "does not exist"/"parent does not exist": checks the layout (and
   *   the version) from a fresh tree read and throws if the fork cannot be made
   * @param check - runs alongside the command; may throw, then the new fork is destroyed
   */
  const makeFork = async (
    forkId: string,
    capacityBytes: number,
    make: (dataset: string) => string[],
    onMissing: (tree: Tree) => void | Promise<void>,
    check?: () => Promise<void>,
  ): Promise<ForkMount> => {
    const dataset = forkDataset(layout, forkId);
    const mountRoot = await forksMountRoot();
    const attempt = async (): Promise<ForkMount> => {
      const [made, checked] = await Promise.allSettled([zfs(make(dataset)), check?.()]);
      if (made.status === 'fulfilled') {
        if (checked.status === 'rejected') {
          await destroyFork(dataset, true);
          throw checked.reason;
        }
        return { mountPath: posix.join(mountRoot, forkId) };
      }
      const error = made.reason;
      if (!(error instanceof CommandFailedError) || error.code === 'BACKEND_UNAVAILABLE') throw error;
      if (isZfsFailure(error, 'out-of-space')) return capacityRefused(error, forkId, capacityBytes);
      if (isZfsFailure(error, 'missing') || isZfsFailure(error, 'no-parent')) throw error;
      // "dataset already exists" (a retry), or created but not mounted, or anything else after
      // which the fork may exist: finish it if it does.
      return existingFork(forkId, capacityBytes, error);
    };
    try {
      return await attempt();
    } catch (error) {
      if (!isZfsFailure(error, 'missing') && !isZfsFailure(error, 'no-parent')) throw error;
      // The version, the layout or the parent is gone: look, repair the layout, try once more.
      forksMountRoot.reset();
      const tree = await readRoot();
      if (tree.has(dataset)) return existingFork(forkId, capacityBytes);
      await onMissing(tree);
      await forksMountRoot();
      return attempt();
    }
  };

  /** Destroys every removed version that nothing depends on any more, walking up origins. */
  const collect = async (): Promise<void> => {
    for (const dataset of collectable(await readTree(), layout)) {
      try {
        await zfs(destroyArgs(dataset));
      } catch (error) {
        // Another caller may have cloned it in a race (it waits its turn), or destroyed it.
        if (isZfsFailure(error, 'has-clones')) continue;
        if (!isZfsFailure(error, 'missing')) throw error;
      }
      await rm(await removedMark(dataset), { force: true });
    }
  };

  /** The file in the forks' mount root that marks a removed version (see forkVersion). */
  const removedMark = async (version: string): Promise<string> =>
    posix.join(await forksMountRoot(), removedMarkName(version));

  /**
   * A fork's `referenced` bytes: all the data it shows, shared or not. That is what `refquota`
   * limits, so a fork of a version gets `referenced + requested size` of room (ZFS `used` would
   * count only the blocks not shared with the origin).
   */
  const forkUsage = async (forkId: string): Promise<Usage> => {
    await filing.on(`fork:${forkId}`);
    const dataset = forkDataset(layout, forkId);
    try {
      return { usedBytes: bytesOf(await zfs(getArgs([dataset], ['referenced'])), dataset, 'referenced') };
    } catch (error) {
      if (isZfsFailure(error, 'missing')) return notFound('fork', forkId, layout.root);
      throw error;
    }
  };

  /**
   * A version's usage: the `referenced` bytes of its snapshot (what its forks start from), read
   * with the removal mark of its dataset in one `zfs get`; a version not filed yet is looked up.
   */
  const versionUsage = async (versionId: string, look = true): Promise<Usage> => {
    await filing.on(`version:${versionId}`);
    const version = versionDataset(layout, versionId);
    const snapshot = snapshotOf(version);
    let output: string;
    try {
      output = await zfs(getArgs([version, snapshot], ['referenced', DELETED_PROPERTY]));
    } catch (error) {
      if (!isZfsFailure(error, 'missing')) throw error;
      if (look && (await fileFound(await readRoot(), versionId))) return versionUsage(versionId, false);
      return notFound('version', versionId, layout.root);
    }
    if (parseProperties(output).get(version)?.get(DELETED_PROPERTY) === 'on') {
      return notFound('version', versionId, layout.root);
    }
    return { usedBytes: bytesOf(output, snapshot, 'referenced') };
  };

  /** Filings under way after their commit returned, by `version:<id>` and `fork:<id>`. */
  const filing = new BackgroundWork();
  /** Version ids this backend object committed or found, so a second commit is refused. */
  const known = new Set<string>();

  /**
   * Files a committed fork under `versions/<id>`, off the commit path: unmounts it (zfs-fuse
   * refuses to rename a mounted filesystem) and renames it with its snapshot. Until then the
   * fork's `@v` is the version. If `versions/<id>` turns out to exist (a version id reused by
   * another process), the fork stays where it is and counts as a fork again (see
   * `unfiledVersion`). Other failures leave the version where it is, found by a tree read and
   * filed by a later call; callers that wait for the filing get them.
   */
  const fileVersion = (forkId: string, versionId: string): Promise<void> => {
    const fork = forkDataset(layout, forkId);
    const version = versionDataset(layout, versionId);
    return filing.start([`version:${versionId}`, `fork:${forkId}`], async () => {
      // Not before the caller's own next steps (such as recording the commit): a spawn blocks.
      await new Promise((resolve) => setImmediate(resolve));
      // zfs-fuse refuses to rename a mounted filesystem ("dataset is busy", and it remounts, so
      // a retry does not help). "missing": another process filed it meanwhile.
      await tolerate(['unmount', fork], 'not-mounted', 'missing');
      try {
        await zfs(['rename', fork, version]); // no `-u`: zfs-fuse lacks it
      } catch (error) {
        if (isZfsFailure(error, 'missing') || isZfsFailure(error, 'exists')) return;
        if (!isZfsFailure(error, 'no-parent')) throw error;
        await ensureVersionsArea();
        await zfs(['rename', fork, version]);
      }
    });
  };

  /**
   * Files the version a commit left in `forks/` (a tree read found it), before using it.
   * @returns whether there was one to file
   */
  const fileFound = async (tree: Tree, versionId: string): Promise<boolean> => {
    const snapshot = versionSnapshot(tree, layout, versionId);
    if (snapshot === undefined || !snapshot.startsWith(`${layout.forks}/`)) return false;
    await fileVersion(snapshot.slice(layout.forks.length + 1, snapshot.indexOf('@')), versionId);
    return true;
  };

  /**
   * The bytes a just-committed fork references, read without a command: ZFS reports a
   * dataset's `referenced` bytes as the used blocks of its mount (`statfs`: exact on zfs-fuse,
   * rounded up to the record size on OpenZFS), and `zfs snapshot` has synced the transaction
   * that holds the fork's last writes. `zfs get` when the fork is not mounted where it should be.
   */
  const committedUsage = async (forkId: string, snapshot: string): Promise<Usage> => {
    const mountRoot = await forksMountRoot();
    const mount = posix.join(mountRoot, forkId);
    const [fs, own, parent] = await Promise.all([statfs(mount), stat(mount), stat(mountRoot)]).catch(
      () => [],
    );
    if (fs && own && parent && own.dev !== parent.dev)
      return { usedBytes: (fs.blocks - fs.bfree) * fs.bsize };
    return { usedBytes: bytesOf(await zfs(getArgs([snapshot], ['referenced'])), snapshot, 'referenced') };
  };

  /** A commit that found the fork gone or its snapshot taken: reads the tree, does what is left. */
  const commitCarefully = async (forkId: string, versionId: string): Promise<Usage> => {
    const tree = await readRoot();
    const fork = forkDataset(layout, forkId);
    const version = versionDataset(layout, versionId);
    if (!tree.has(fork)) {
      if (isLiveVersion(tree, version)) return versionUsage(versionId);
      return notFound('fork', forkId, layout.root);
    }
    const made = unfiledVersion(tree, fork);
    if (made === versionId) return fileVersion(forkId, versionId).then(() => versionUsage(versionId));
    if (made !== undefined) return notFound('fork', forkId, layout.root); // committed as another
    if (tree.has(version) || versionSnapshot(tree, layout, versionId) !== undefined) {
      versionExists(forkId, versionId, { dataset: layout.root });
    }
    await ensureVersionsArea(tree);
    // A snapshot left by an interrupted commit may predate the fork's last writes: retake it.
    if (tree.has(snapshotOf(fork))) await tolerate(destroyArgs(snapshotOf(fork)), 'missing');
    return commitOnce(forkId, versionId);
  };

  /** The commit itself: one `zfs snapshot` that also names the version; filing comes after. */
  const commitOnce = async (forkId: string, versionId: string): Promise<Usage> => {
    const snapshot = snapshotOf(forkDataset(layout, forkId));
    await zfs(snapshotArgs(snapshot, versionId));
    known.add(versionId);
    const usage = await committedUsage(forkId, snapshot);
    fileVersion(forkId, versionId).catch(() => undefined); // a later call files it
    return usage;
  };

  // Ids, capacities and kinds are checked by defineBackend before any of these run.
  return defineBackend<ZfsBackend>({
    name: 'zfs',
    dataset: layout.root,
    capabilities: CAPABILITIES,

    async ready() {
      await readRoot();
    },

    async createFork(forkId, { capacityBytes }) {
      return makeFork(
        forkId,
        capacityBytes,
        (dataset) => ['create', '-o', `refquota=${capacityBytes}`, dataset],
        () => undefined,
      );
    },

    async forkVersion(forkId, versionId, { capacityBytes }) {
      await filing.on(`version:${versionId}`);
      const version = versionDataset(layout, versionId);
      return makeFork(
        forkId,
        capacityBytes,
        (dataset) => ['clone', '-o', `refquota=${capacityBytes}`, snapshotOf(version), dataset],
        // A version still in `forks/` (its filing was cut short) is filed first.
        async (tree) => {
          // Looked at twice: another process's filing (a rename) can move the version while the
          // tree is read, so that one read sees it in neither `forks/` nor `versions/`.
          for (let look = 1; ; look++) {
            if (await fileFound(tree, versionId)) tree = await readRoot();
            if (isLiveVersion(tree, version)) return;
            if (look === 2) notFound('version', versionId, layout.root);
            tree = await readRoot();
          }
        },
        // A removed version keeps its snapshot while forks use it: never fork it again. Its
        // removal mark, a file, is looked for alongside the clone (no second `zfs` process);
        // a fork made from a removed version is destroyed again. (Not a rename of the
        // snapshot: zfs-fuse unmounts and remounts every clone of a snapshot it renames.)
        async () => {
          const removed = await access(await removedMark(version)).then(
            () => true,
            () => false,
          );
          if (removed) notFound('version', versionId, layout.root);
        },
      );
    },

    async commitFork(forkId, versionId) {
      if (known.has(versionId)) {
        await filing.on(`version:${versionId}`);
        return commitCarefully(forkId, versionId);
      }
      // Taking the snapshot also flushes: it includes every write that has returned.
      try {
        return await commitOnce(forkId, versionId);
      } catch (error) {
        // The fork is gone (committed already?) or an interrupted commit left its snapshot.
        if (isZfsFailure(error, 'missing') || isZfsFailure(error, 'exists')) {
          return commitCarefully(forkId, versionId);
        }
        throw error;
      }
    },

    async discardFork(forkId) {
      await filing.on(`fork:${forkId}`);
      const tree = await readTree();
      const dataset = forkDataset(layout, forkId);
      const info = tree.get(dataset);
      // A committed fork not filed yet is a version, not this fork any more.
      if (info && unfiledVersion(tree, dataset) === undefined) await destroyFork(dataset, info.mounted);
      await collect();
    },

    async removeVersion(versionId) {
      await filing.on(`version:${versionId}`);
      let tree = await readTree();
      if (await fileFound(tree, versionId)) tree = await readTree();
      for (const [name, info] of scratchOf(tree, layout, versionId)) await destroyFork(name, info.mounted);
      const version = versionDataset(layout, versionId);
      const info = tree.get(version);
      if (info?.type !== 'filesystem') return collect();
      if (!info.deleted) await zfs(['set', `${DELETED_PROPERTY}=on`, version]);
      await writeFile(await removedMark(version), '');
      await collect();
    },

    async usage(kind, id) {
      return kind === 'fork' ? forkUsage(id) : versionUsage(id);
    },

    async list(): Promise<BackendEntry[]> {
      await filing.idle();
      return entriesOf(await readRoot(), layout);
    },

    idle: () => filing.idle(),

    ...zfsTransfer({
      layout,
      zfs,
      streams,
      readRoot,
      forksMountRoot,
      filed: (versionId) => filing.on(`version:${versionId}`),
      destroyFork,
      versionUsage: (versionId) => versionUsage(versionId),
      notFound: (kind, id) => notFound(kind, id, layout.root),
    }),
  });
}
