import {
  type BackendCapabilities,
  type BackendEntry,
  CacheVolumeError,
  type EntryKind,
  type ForkMount,
  type ForkOptions,
  type Usage,
  validateId,
} from '@cachevol/core';
import type { ZfsSettings } from '../options.js';
import type { ZfsBackend } from '../zfs-backend.js';
import { retryWhenBusy } from './busy-retry.js';
import {
  cloneArgs,
  createForkArgs,
  createLayoutArgs,
  destroyArgs,
  getArgs,
  mountArgs,
  renameArgs,
  setArgs,
  snapshotArgs,
  TREE_PROPERTIES,
  unmountArgs,
} from './commands.js';
import {
  DELETED_PROPERTY,
  forkDataset,
  type Layout,
  layoutOf,
  snapshotOf,
  tmpDataset,
  versionDataset,
} from './layout.js';
import { isZfsFailure, type ZfsFailure, type ZfsRunner } from './runner.js';
import { collectable, entriesOf, isLiveVersion, parseProperties, parseTree, type Tree } from './tree.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  copyOnWrite: true,
  constantTime: true,
  quota: true,
  transfer: false,
  changeDetection: false,
});

function notFound(kind: EntryKind, id: string, root: string): never {
  throw new CacheVolumeError('NOT_FOUND', `The ZFS backend on ${root} has no ${kind} "${id}".`, {
    details: { [kind]: id, dataset: root },
  });
}

function checkCapacity(capacityBytes: unknown): number {
  if (typeof capacityBytes === 'number' && Number.isSafeInteger(capacityBytes) && capacityBytes > 0) {
    return capacityBytes;
  }
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid fork capacity ${String(capacityBytes)}: expected a positive whole number of bytes.`,
    { details: { capacityBytes } },
  );
}

/**
 * The ZFS backend over a given command runner (tests pass one that simulates crashes).
 *
 * Every method reads the dataset tree first and then does only what is still missing, so a
 * retry after a crash at any point finishes the job: forks are built under `tmp/` and renamed
 * into `forks/`; a commit snapshots the fork and renames it into `versions/`; a removed version
 * is marked with {@link DELETED_PROPERTY} and destroyed once no clone depends on it.
 *
 * @param settings - parsed options
 * @param runner - runs `zfs`
 */
export function createZfsBackendWith(settings: ZfsSettings, runner: ZfsRunner): ZfsBackend {
  const layout: Layout = layoutOf(settings.dataset);
  const busyRetrying = retryWhenBusy(runner);
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

  /** Creates `versions/` or `tmp/` (unmounted) when missing. */
  const ensureArea = async (tree: Tree, area: string): Promise<void> => {
    if (!tree.has(area)) await tolerate(createLayoutArgs(area, 'none'), 'exists');
  };

  /** Creates `forks/` when missing, mounted under `mountRoot` or the parent; checks it. */
  const ensureForksArea = async (tree: Tree): Promise<void> => {
    const forks = tree.get(layout.forks);
    if (forks) {
      if (settings.mountRoot !== undefined && forks.mountpoint !== settings.mountRoot) {
        throw new CacheVolumeError(
          'INVALID_ARGUMENT',
          `Option \`mountRoot\` is ${settings.mountRoot}, but the forks of ${layout.root} are mounted under ${forks.mountpoint}: pass that as \`mountRoot\`, or move them with \`zfs set mountpoint=${settings.mountRoot} ${layout.forks}\` while no fork is in use.`,
          { details: { mountRoot: settings.mountRoot, current: forks.mountpoint } },
        );
      }
      return;
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
  };

  /** Mounts a fork if it is not mounted (a rename does not always mount) and says where. */
  const mountFork = async (forkId: string): Promise<ForkMount> => {
    const dataset = forkDataset(layout, forkId);
    const info = parseTree(await zfs(getArgs([dataset], ['mountpoint', 'mounted']))).get(dataset);
    if (!info?.mountpoint?.startsWith('/')) {
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `Fork dataset ${dataset} has mountpoint=${info?.mountpoint ?? 'none'}: give ${layout.forks} a mountpoint (or set the \`mountRoot\` option).`,
        { details: { dataset, mountpoint: info?.mountpoint } },
      );
    }
    if (!info.mounted) await tolerate(mountArgs(dataset), 'mounted');
    return { mountPath: info.mountpoint };
  };

  /** Builds a fork under `tmp/` with `build`, then renames it into place and mounts it. */
  const buildFork = async (tree: Tree, forkId: string, build: (dataset: string) => Promise<void>) => {
    await ensureForksArea(tree);
    await ensureArea(tree, layout.tmp);
    const tmp = tmpDataset(layout, forkId);
    if (tree.has(tmp)) await tolerate(destroyArgs(tmp), 'missing');
    await build(tmp);
    await zfs(renameArgs(tmp, forkDataset(layout, forkId)));
    return mountFork(forkId);
  };

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

  /** Unmounts a fork before a rename or destroy (see {@link unmountArgs}). */
  const unmount = async (tree: Tree, dataset: string): Promise<void> => {
    if (tree.get(dataset)?.mounted) await tolerate(unmountArgs(dataset), 'not-mounted', 'missing');
  };

  /** Destroys every removed version that nothing depends on any more, walking up origins. */
  const collect = async (): Promise<void> => {
    for (const dataset of collectable(await readTree(), layout)) {
      // Another caller may have destroyed it, or cloned it in a race; then it waits its turn.
      await tolerate(destroyArgs(dataset), 'missing', 'has-clones');
    }
  };

  /**
   * A fork's or version's `referenced` bytes: all the data it shows, shared or not. That is what
   * `refquota` limits, so a fork of it gets `referenced + requested size` of room (ZFS `used`
   * would count only the blocks not shared with the origin).
   */
  const usageOf = async (kind: EntryKind, id: string, dataset: string): Promise<Usage> => {
    let output: string;
    try {
      output = await zfs(getArgs([dataset], ['referenced', DELETED_PROPERTY]));
    } catch (error) {
      if (isZfsFailure(error, 'missing')) return notFound(kind, id, layout.root);
      throw error;
    }
    const values = parseProperties(output).get(dataset) ?? new Map<string, string>();
    if (values.get(DELETED_PROPERTY) === 'on') return notFound(kind, id, layout.root);
    const referenced = Number(values.get('referenced'));
    if (!Number.isSafeInteger(referenced) || referenced < 0) {
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `Unexpected \`referenced\` value for ${dataset}: ${values.get('referenced')}.`,
        { details: { dataset, output } },
      );
    }
    return { usedBytes: referenced };
  };

  /** Destroys a half-built copy of a fork that exists (or was committed) already. */
  const dropLeftover = async (tree: Tree, forkId: string): Promise<void> => {
    const tmp = tmpDataset(layout, forkId);
    if (tree.has(tmp)) await tolerate(destroyArgs(tmp), 'missing');
  };

  return {
    name: 'zfs',
    dataset: layout.root,
    capabilities: CAPABILITIES,

    async ready() {
      await readRoot();
    },

    async createFork(forkId, options: ForkOptions) {
      validateId(forkId, 'fork id');
      const capacityBytes = checkCapacity(options?.capacityBytes);
      const tree = await readRoot();
      if (tree.has(forkDataset(layout, forkId))) {
        await dropLeftover(tree, forkId);
        return mountFork(forkId);
      }
      return buildFork(tree, forkId, (tmp) =>
        zfs(createForkArgs(tmp, capacityBytes)).then(
          () => undefined,
          (error: unknown) => capacityRefused(error, forkId, capacityBytes),
        ),
      );
    },

    async forkVersion(forkId, versionId, options: ForkOptions) {
      validateId(forkId, 'fork id');
      validateId(versionId, 'version id');
      const capacityBytes = checkCapacity(options?.capacityBytes);
      const tree = await readRoot();
      if (tree.has(forkDataset(layout, forkId))) {
        await dropLeftover(tree, forkId);
        return mountFork(forkId);
      }
      const version = versionDataset(layout, versionId);
      if (!isLiveVersion(tree, version)) return notFound('version', versionId, layout.root);
      return buildFork(tree, forkId, async (tmp) => {
        try {
          await zfs(cloneArgs(snapshotOf(version), tmp, capacityBytes));
        } catch (error) {
          if (isZfsFailure(error, 'missing')) return notFound('version', versionId, layout.root);
          capacityRefused(error, forkId, capacityBytes);
        }
      });
    },

    async commitFork(forkId, versionId) {
      validateId(forkId, 'fork id');
      validateId(versionId, 'version id');
      const tree = await readRoot();
      const fork = forkDataset(layout, forkId);
      const version = versionDataset(layout, versionId);
      if (!tree.has(fork)) {
        if (isLiveVersion(tree, version)) return usageOf('version', versionId, version);
        return notFound('fork', forkId, layout.root);
      }
      if (tree.has(version)) {
        throw new CacheVolumeError(
          'ALREADY_EXISTS',
          `Cannot commit fork "${forkId}" as version "${versionId}": that version already exists.`,
          { details: { forkId, versionId } },
        );
      }
      await ensureArea(tree, layout.versions);
      await dropLeftover(tree, forkId);
      // A snapshot left by an interrupted commit may predate the fork's last writes: retake it.
      // Taking the snapshot also flushes: it includes every write that has returned.
      if (tree.has(snapshotOf(fork))) await tolerate(destroyArgs(snapshotOf(fork)), 'missing');
      await zfs(snapshotArgs(snapshotOf(fork)));
      await unmount(tree, fork);
      await zfs(renameArgs(fork, version));
      return usageOf('version', versionId, version);
    },

    async discardFork(forkId) {
      validateId(forkId, 'fork id');
      const tree = await readTree();
      for (const dataset of [tmpDataset(layout, forkId), forkDataset(layout, forkId)]) {
        if (!tree.has(dataset)) continue;
        await unmount(tree, dataset);
        await tolerate(destroyArgs(dataset), 'missing');
      }
      await collect();
    },

    async removeVersion(versionId) {
      validateId(versionId, 'version id');
      const tree = await readTree();
      const version = versionDataset(layout, versionId);
      const info = tree.get(version);
      if (info?.type === 'filesystem' && !info.deleted) await zfs(setArgs(version, DELETED_PROPERTY, 'on'));
      await collect();
    },

    async usage(kind, id) {
      validateId(id, `${kind} id`);
      if (kind === 'fork') return usageOf(kind, id, forkDataset(layout, id));
      if (kind === 'version') return usageOf(kind, id, versionDataset(layout, id));
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Invalid entry kind ${String(kind)}: expected "fork" or "version".`,
      );
    },

    async list(): Promise<BackendEntry[]> {
      return entriesOf(await readRoot(), layout);
    },
  };
}
