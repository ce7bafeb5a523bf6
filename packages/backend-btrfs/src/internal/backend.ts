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
  defineBackend,
  namesIn,
  notFound,
  statOrNull as statOf,
  versionExists,
} from '@cachevol/core/backend-kit';
import type { BtrfsSettings } from '../options.js';
import type { BtrfsBackend } from '../types.js';
import {
  createSubvolumeArgs,
  deleteSubvolumeArgs,
  deleteSubvolumeByIdArgs,
  filesystemDuArgs,
  listSubvolumesArgs,
  qgroupClearStaleArgs,
  qgroupLimitArgs,
  qgroupShowArgs,
  quotaEnableArgs,
  quotaRescanArgs,
  rootIdArgs,
  showSubvolumeArgs,
  snapshotArgs,
  versionArgs,
} from './argv.js';
import type { Host } from './host.js';
import { AREAS, entryOfName, layoutOf } from './layout.js';
import {
  nestedBottomUp,
  parseFilesystemDu,
  parseQgroupShow,
  parseRootId,
  parseSubvolumeList,
  parseSubvolumeShow,
  type QgroupRow,
} from './parse.js';

/** The inode number of every subvolume's root directory on btrfs. */
const SUBVOLUME_ROOT_INODE = 256;

/**
 * The btrfs backend over a {@link Host} (the real one, or one that simulates crashes in tests).
 * Options must have been parsed and the root checked.
 *
 * @param settings - parsed options
 * @param host - where state-changing steps go
 */
export function btrfsBackendOn(settings: BtrfsSettings, host: Host): BtrfsBackend {
  const { root } = settings;
  const paths = layoutOf(root);
  const capabilities: BackendCapabilities = Object.freeze({
    copyOnWrite: true,
    constantTime: true,
    quota: settings.quota,
    transfer: false,
    changeDetection: false,
  });
  let preparing: Promise<void> | undefined;

  const btrfs = (args: readonly string[]) => host.btrfs(args);

  async function ensureQuota(): Promise<void> {
    try {
      await btrfs(qgroupShowArgs(root, false));
    } catch (error) {
      if (!(error instanceof CommandFailedError && /not enabled/i.test(error.stderr))) throw error;
      await btrfs(quotaEnableArgs(root));
      await btrfs(quotaRescanArgs(root, true));
      return;
    }
    // Another process may just have turned quotas on: limits hold once its rescan is done.
    await btrfs(quotaRescanArgs(root, false));
  }

  async function prepare(): Promise<void> {
    await btrfs(versionArgs());
    for (const area of AREAS) await host.mkdir(paths.area(area));
    if (settings.quota) await ensureQuota();
  }

  function ready(): Promise<void> {
    preparing ??= prepare().catch((error: unknown) => {
      preparing = undefined;
      throw error;
    });
    return preparing;
  }

  async function subvolumeId(path: string): Promise<number> {
    return parseRootId(await btrfs(rootIdArgs(path)));
  }

  /** Deletes the subvolume at `path`, with any nested ones (deepest first). */
  async function deleteSubvolume(path: string): Promise<void> {
    try {
      // The common case, in one command. btrfs refuses (ENOTEMPTY) while nested subvolumes
      // exist, and then deletes nothing.
      await btrfs(deleteSubvolumeArgs(path));
      return;
    } catch (error) {
      if (!(error instanceof CommandFailedError) || !(await statOf(path))) throw error;
    }
    // Whatever the refusal was, delete what is nested and try once more: a second refusal
    // is the real error.
    const id = await subvolumeId(path);
    const nested = nestedBottomUp(parseSubvolumeList(await btrfs(listSubvolumesArgs(root))), id);
    for (const child of nested) await btrfs(deleteSubvolumeByIdArgs(child, path));
    await btrfs(deleteSubvolumeArgs(path));
  }

  /** Deletes whatever is at `path`: a subvolume with any nested ones (bottom-up), or a plain tree. */
  async function purge(path: string): Promise<void> {
    const stats = await statOf(path);
    if (!stats) return;
    if (!stats.isDirectory() || stats.ino !== SUBVOLUME_ROOT_INODE) {
      await host.removeTree(path);
      return;
    }
    await deleteSubvolume(path);
  }

  /**
   * Destroys the qgroups of subvolumes that are gone. Kernels that keep them leave one per
   * deleted fork or version; this one (6.18) drops them itself once the cleaner is done, and
   * refuses while it is not. Either way a refusal changes nothing (the command then fails).
   */
  async function clearStaleQgroups(): Promise<void> {
    if (!settings.quota) return;
    await btrfs(qgroupClearStaleArgs(root)).catch((error: unknown) => {
      if (!(error instanceof CommandFailedError)) throw error;
    });
  }

  /** Removes a fork or version and any half-built or half-deleted leftovers of it. */
  async function remove(kind: EntryKind, id: string): Promise<void> {
    await purge(paths.temp(kind, id));
    const live = paths.live(kind, id);
    const trash = paths.trash(kind, id);
    if (await statOf(live)) {
      await purge(trash);
      await host.rename(live, trash);
    }
    await purge(trash);
  }

  /**
   * Bytes referenced by the subvolume at `path`: its qgroup's referenced bytes, or without
   * quotas what `btrfs filesystem du` counts.
   *
   * @param path - a fork or version
   * @param writable - a fork: commit the transaction first so that recent writes are counted
   *   (a version is frozen, and its snapshot committed the transaction that made it)
   */
  async function measure(path: string, writable: boolean): Promise<number> {
    if (!settings.quota) return parseFilesystemDu(await btrfs(filesystemDuArgs(path)));
    const rows = parseQgroupShow(await btrfs(qgroupShowArgs(path, writable)));
    // `-f` lists the subvolume's own qgroup and maybe higher-level ones it belongs to; only
    // the own one has level 0. Anything else (an unknown btrfs-progs) is settled by the id.
    const own = rows.filter((r) => r.qgroupId.startsWith('0/'));
    if (own.length === 1) return (own[0] as QgroupRow).referenced;
    const id = await subvolumeId(path);
    const row = rows.find((r) => r.qgroupId === `0/${id}`);
    if (row) return row.referenced;
    throw new CacheVolumeError(
      'BACKEND_FAILED',
      `btrfs has no qgroup 0/${id} for ${path}: check that quotas are on (\`btrfs quota enable ${root}\`).`,
      {
        details: { path, subvolumeId: id },
      },
    );
  }

  /** Whether the subvolume at `path` is a snapshot of the one at `source`. */
  async function snapshotOf(path: string, source: string): Promise<boolean> {
    const [made, from] = await Promise.all(
      [path, source].map(async (p) => parseSubvolumeShow(await btrfs(showSubvolumeArgs(p)))),
    );
    return made?.parentUuid === from?.uuid;
  }

  async function makeFork(forkId: string, capacityBytes: number, source: string | null): Promise<ForkMount> {
    const target = paths.live('fork', forkId);
    if (await statOf(target)) return { mountPath: target };
    const temp = paths.temp('fork', forkId);
    await purge(temp);
    await btrfs(source === null ? createSubvolumeArgs(temp) : snapshotArgs(source, temp, false));
    if (settings.quota) await btrfs(qgroupLimitArgs(capacityBytes, temp));
    await host.rename(temp, target);
    return { mountPath: target };
  }

  // Ids, capacities and kinds are checked by defineBackend before any of these run.
  return defineBackend<BtrfsBackend>({
    name: 'btrfs',
    root,
    capabilities,
    ready,

    async createFork(forkId, { capacityBytes }) {
      await ready();
      return makeFork(forkId, capacityBytes, null);
    },

    async forkVersion(forkId, versionId, { capacityBytes }) {
      await ready();
      if (await statOf(paths.live('fork', forkId))) return { mountPath: paths.live('fork', forkId) };
      const source = paths.live('version', versionId);
      if (!(await statOf(source))) notFound('btrfs', 'version', versionId, { where: root });
      return makeFork(forkId, capacityBytes, source);
    },

    async commitFork(forkId, versionId): Promise<Usage> {
      await ready();
      const fork = paths.live('fork', forkId);
      const version = paths.live('version', versionId);
      const [versionThere, forkThere] = await Promise.all([statOf(version), statOf(fork)]);
      if (versionThere && forkThere && !(await snapshotOf(version, fork))) {
        versionExists(forkId, versionId, { root });
      }
      if (!versionThere) {
        if (!forkThere) notFound('btrfs', 'fork', forkId, { where: root, details: { versionId } });
        // One atomic step, so no temporary name: the snapshot flushes the fork's dirty data,
        // then creates the read-only subvolume and its directory entry in one transaction
        // commit, which also makes it durable. A crash leaves either no version or all of it.
        await btrfs(snapshotArgs(fork, version, true));
      }
      // Independent steps, so their commands run side by side. Both are waited for, so a
      // failure never leaves a delete running behind the caller's retry.
      const [removed, measured] = await Promise.allSettled([remove('fork', forkId), measure(version, false)]);
      if (removed.status === 'rejected') throw removed.reason;
      if (measured.status === 'rejected') throw measured.reason;
      return { usedBytes: measured.value };
    },

    async discardFork(forkId) {
      await ready();
      await remove('fork', forkId);
    },

    async removeVersion(versionId) {
      await ready();
      await remove('version', versionId);
      await clearStaleQgroups();
    },

    async usage(kind, id): Promise<Usage> {
      await ready();
      const path = paths.live(kind, id);
      if (!(await statOf(path))) notFound('btrfs', kind, id, { where: root });
      return { usedBytes: await measure(path, kind === 'fork') };
    },

    async list(): Promise<BackendEntry[]> {
      await ready();
      const entries = new Map<string, BackendEntry>();
      for (const area of AREAS) {
        for (const name of await namesIn(paths.area(area))) {
          const entry = entryOfName(area, name);
          if (entry) entries.set(`${entry.kind}:${entry.id}`, entry);
        }
      }
      return [...entries.values()];
    },
  });
}
