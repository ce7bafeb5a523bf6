import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
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
  extractTarZstd,
  namesIn,
  notFound,
  once,
  runCommand,
  statOrNull as statOf,
  tarZstdStream,
  verifiedInput,
  versionExists,
} from '@cachevol/core/backend-kit';
import type { BtrfsSettings } from '../options.js';
import type { BtrfsBackend } from '../types.js';
import { estimateBytes } from './estimate.js';
import type { Host } from './host.js';
import { AREAS, entryOfName, layoutOf } from './layout.js';
import { parseFilesystemDu, parseQgroupShow, parseSubvolumeShow, type QgroupRow } from './parse.js';
import { renamedSendStream } from './send-stream.js';
import { newId, type QgroupFiles, qgroupFiles } from './sysfs.js';

/** The inode number of every subvolume's root directory on btrfs. */
const SUBVOLUME_ROOT_INODE = 256;

/** The subvolumes nested anywhere under the subvolume at `path`, deepest first. */
async function nestedSubvolumes(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = join(path, entry.name);
    found.push(...(await nestedSubvolumes(child)));
    if ((await lstat(child)).ino === SUBVOLUME_ROOT_INODE) found.push(child);
  }
  return found;
}

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
    transfer: true,
    changeDetection: false,
  });
  /** The filesystem's qgroups in sysfs, when quotas are on and the kernel shows them. */
  let qgroups: QgroupFiles | undefined;
  /** Steps still running after the commit that started them returned, by the path they change. */
  const later = new BackgroundWork();
  /** Per fork that this process made: its capacity beyond what its source referenced. */
  const headroom = new Map<string, number>();
  /** Per version that this process committed: its subvolume id (its qgroup in sysfs). */
  const committed = new Map<string, string>();

  const btrfs = (args: readonly string[]) => host.btrfs(args);
  /** A snapshot of `source` (read-only: a version), or a new empty subvolume when it is `null`. */
  const snapshot = (source: string | null, target: string, readOnly = false) =>
    btrfs(
      source === null
        ? ['subvolume', 'create', target]
        : ['subvolume', 'snapshot', ...(readOnly ? ['-r'] : []), source, target],
    );

  async function ensureQuota(): Promise<void> {
    try {
      await btrfs(['qgroup', 'show', '-f', root]);
    } catch (error) {
      if (!(error instanceof CommandFailedError && /not enabled/i.test(error.stderr))) throw error;
      await btrfs(['quota', 'enable', root]);
      await btrfs(['quota', 'rescan', '-w', root]); // limits hold once a rescan is done
      return;
    }
    // Another process may just have turned quotas on: wait for its rescan, if one runs.
    await btrfs(['quota', 'rescan', '-W', root]);
  }

  /** Checks for btrfs-progs before anything is made, then makes the layout. */
  const ready = once(async (): Promise<void> => {
    if (!settings.quota) await btrfs(['--version']);
    else {
      // The filesystem's UUID names its sysfs directory (without it, figures come from btrfs).
      const [uuid] = await Promise.all([
        runCommand('findmnt', ['-n', '-o', 'UUID', '-T', root]).catch(() => ''),
        ensureQuota(),
      ]);
      qgroups = /^[0-9a-f-]{36}$/i.test(uuid.trim()) ? qgroupFiles(uuid.trim()) : undefined;
    }
    for (const area of AREAS) await host.mkdir(paths.area(area));
  });

  /** Deletes whatever is at `path`: a subvolume with any nested ones (bottom-up), or a plain tree. */
  async function purge(path: string): Promise<void> {
    await later.on(path);
    const stats = await statOf(path);
    if (!stats) return;
    if (!stats.isDirectory() || stats.ino !== SUBVOLUME_ROOT_INODE) return host.removeTree(path);
    try {
      // The common case, in one command. btrfs refuses (ENOTEMPTY) while nested subvolumes
      // exist, and then deletes nothing. No `-c`: the subvolume is under a trash name already,
      // so one that a power loss brings back is deleted again by a retry or reconcile().
      await btrfs(['subvolume', 'delete', path]);
      return;
    } catch (error) {
      if (!(error instanceof CommandFailedError)) throw error;
      if (!(await statOf(path))) return; // deleted meanwhile (by a retry, or another process)
    }
    // Whatever the refusal was, delete what is nested and try once more: a second refusal
    // is the real error.
    for (const child of await nestedSubvolumes(path)) await btrfs(['subvolume', 'delete', child]);
    await btrfs(['subvolume', 'delete', path]);
  }

  /**
   * Takes a fork or version out of use: removes half-built leftovers and renames it to its
   * trash name, which only a delete still has to remove.
   *
   * @returns the trash path
   */
  async function retire(kind: EntryKind, id: string): Promise<string> {
    const live = paths.live(kind, id);
    const trash = paths.trash(kind, id);
    // Usually three stats: side by side.
    const [, , there] = await Promise.all([purge(paths.temp(kind, id)), purge(trash), statOf(live)]);
    if (there) await host.rename(live, trash);
    return trash;
  }

  /** Removes a fork or version and any half-built or half-deleted leftovers of it. */
  async function remove(kind: EntryKind, id: string): Promise<void> {
    await purge(await retire(kind, id));
    if (kind === 'version' && !settings.quota) await host.removeTree(paths.size(id));
  }

  /**
   * Runs `work` on `path` after the caller returns. `purge()` and `list()` wait for it, so this
   * process sees it done. A failure is dropped: a delete cut short leaves its subvolume under a
   * trash name, which `list()` reports so that a retry or `reconcile()` deletes it.
   */
  function soon(path: string, work: () => Promise<unknown>): void {
    later.start([path], work).catch(() => undefined);
  }

  /** The qgroup of the one subvolume made since `before` was read, if sysfs tells which it is. */
  function newQgroup(before: Set<string> | undefined) {
    const id = before && qgroups ? newId(before, qgroups.ids()) : undefined;
    const figures = id === undefined ? undefined : qgroups?.read(id);
    return figures && { id: id as string, ...figures };
  }

  /**
   * Without quotas, a commit's usage: the cached size when `usage()` measured the version
   * already (a retry), else an estimate (exact figures cost time in proportion to the files).
   */
  async function estimate(versionId: string, path: string): Promise<Usage> {
    const cached = await cachedSize(versionId);
    return cached === undefined
      ? { usedBytes: await estimateBytes(path), estimated: true }
      : { usedBytes: cached };
  }

  /** A version's size cached by an earlier measurement (quotas off), if any. */
  async function cachedSize(versionId: string): Promise<number | undefined> {
    const text = await readFile(paths.size(versionId), 'utf8').catch(() => '');
    return /^\d+\n$/.test(text) ? Number(text) : undefined;
  }

  /**
   * The usage of a version made just now, when `before` holds the qgroup ids from before its
   * snapshot: read from sysfs if it is the only new qgroup, else measured with `btrfs`. When
   * this process made the fork, the version then gets the limit that its next fork will ask
   * for if it asks for the same size: forks inherit their source's limit, so that fork needs
   * no `qgroup limit` of its own (see makeFork).
   */
  async function measureNew(
    forkId: string,
    versionId: string,
    before: Set<string> | undefined,
  ): Promise<Usage> {
    const path = paths.live('version', versionId);
    const made = newQgroup(before);
    const usedBytes = made?.referenced ?? (await measure(path, false));
    const extra = headroom.get(forkId);
    headroom.delete(forkId);
    if (made && extra !== undefined) {
      soon(path, async () => {
        await btrfs(['qgroup', 'limit', String(usedBytes + extra), path]);
        committed.set(versionId, made.id);
      });
    }
    return { usedBytes };
  }

  /**
   * Bytes referenced by the subvolume at `path`: its qgroup's referenced bytes (`-f`: only its
   * own qgroups), or without quotas what `btrfs filesystem du` counts (a walk of the metadata).
   *
   * @param path - a fork or version
   * @param writable - a fork: commit the transaction first (`--sync`) so that recent writes
   *   are counted (a version is frozen, and its snapshot committed the transaction that made it)
   */
  async function measure(path: string, writable: boolean): Promise<number> {
    if (!settings.quota) return parseFilesystemDu(await btrfs(['filesystem', 'du', '-s', '--raw', path]));
    const sync = writable ? ['--sync'] : [];
    const rows = parseQgroupShow(await btrfs(['qgroup', 'show', '--raw', '-f', ...sync, path]));
    // `-f` lists the subvolume's own qgroup and maybe higher-level ones it belongs to; only
    // the own one has level 0.
    const own = rows.filter((r) => r.qgroupId.startsWith('0/'));
    if (own.length === 1) return (own[0] as QgroupRow).referenced;
    throw new CacheVolumeError(
      'BACKEND_FAILED',
      `btrfs shows ${own.length} level-0 qgroups for ${path}: check that quotas are on (\`btrfs quota enable ${root}\`).`,
      { details: { path, qgroups: own.map((r) => r.qgroupId) } },
    );
  }

  /** Whether the subvolume at `path` is a snapshot of the one at `source`. */
  async function snapshotOf(path: string, source: string): Promise<boolean> {
    const [made, from] = await Promise.all(
      [path, source].map(async (p) => parseSubvolumeShow(await btrfs(['subvolume', 'show', p]))),
    );
    return made?.parentUuid === from?.uuid;
  }

  /** Makes a fork that does not exist yet: an empty one, or a snapshot of `source`. */
  async function makeFork(forkId: string, capacityBytes: number, source: string | null): Promise<ForkMount> {
    const target = paths.live('fork', forkId);
    if (!settings.quota) {
      // Without a limit to set, the snapshot (or create) makes the whole fork in one step.
      await snapshot(source, target);
      return { mountPath: target };
    }
    const temp = paths.temp('fork', forkId);
    const [, before] = await Promise.all([purge(temp), qgroups?.ids()]);
    await snapshot(source, temp);
    // A snapshot inherits its source's qgroup limit: when sysfs shows that it is already the
    // capacity (see measureNew), the limit command is not needed.
    const made = newQgroup(before);
    if (made) headroom.set(forkId, capacityBytes - (source === null ? 0 : made.referenced));
    if (made?.limit !== capacityBytes) await btrfs(['qgroup', 'limit', String(capacityBytes), temp]);
    await host.rename(temp, target);
    return { mountPath: target };
  }

  /**
   * The usage of a version received just now: with quotas its qgroup's figure, once the
   * transaction that holds the receive's writes is committed (`--sync`); without, the cached
   * size when `usage()` measured it already, else an estimate (see {@link estimate}).
   */
  const receivedUsage = async (versionId: string, path: string): Promise<Usage> =>
    settings.quota ? { usedBytes: await measure(path, true) } : estimate(versionId, path);

  /**
   * Receives a version under its temporary name, `versions/.tmp-<id>`: `btrfs receive` of a send
   * stream renamed to it (see renamedSendStream), confined there (`--chroot`) and stopping after
   * one subvolume (`-e`), or a new subvolume filled from a tar stream and then made read-only.
   * The caller checks the digest, then renames it into place.
   */
  async function receiveInto(temp: string, input: AsyncIterable<Uint8Array>, tar: boolean): Promise<void> {
    if (!tar) {
      const args = ['receive', '-q', '-e', '--chroot', paths.area('versions')];
      await host.btrfsInput(args, renamedSendStream(input, basename(temp)));
      return;
    }
    await snapshot(null, temp);
    await extractTarZstd(temp, input);
  }

  // Ids, capacities and kinds are checked by defineBackend before any of these run.
  return defineBackend<BtrfsBackend>({
    name: 'btrfs',
    root,
    capabilities,
    ready,
    transferFormats: ['btrfs-send', 'tar-zstd'],

    async sendVersion(versionId, { baseId, format = 'btrfs-send' } = {}) {
      await ready();
      const version = paths.live('version', versionId);
      if (!(await statOf(version))) notFound('btrfs', 'version', versionId, { where: root });
      if (format === 'tar-zstd') return { format, baseId: null, stream: tarZstdStream(version) };
      // `-p`: what changed since a base the receiver holds (it finds its copy by UUID).
      const base = baseId === undefined ? null : paths.live('version', baseId);
      const withBase = base !== null && (await statOf(base)) !== null;
      const args = ['send', '-q', ...(withBase ? ['-p', base] : []), version];
      return { format, baseId: withBase ? (baseId as string) : null, stream: host.btrfsOutput(args) };
    },

    async receiveVersion(versionId, stream, options): Promise<Usage> {
      await ready();
      const live = paths.live('version', versionId);
      if (await statOf(live)) return receivedUsage(versionId, live);
      const temp = paths.temp('version', versionId);
      await purge(temp);
      const checked = verifiedInput(stream, options);
      const tar = options.format === 'tar-zstd';
      try {
        await receiveInto(temp, checked.input, tar);
        await checked.verify(`version ${versionId}`);
        if (tar) await btrfs(['property', 'set', '-ts', temp, 'ro', 'true']);
        await host.rename(temp, live);
      } catch (error) {
        await purge(temp).catch(() => undefined);
        if (await statOf(live)) return receivedUsage(versionId, live); // received meanwhile
        if (error instanceof CommandFailedError && /cannot find parent subvolume/i.test(error.stderr)) {
          throw new CacheVolumeError(
            'NOT_FOUND',
            `The btrfs backend under ${root} holds no copy of version ${options.baseId}, which the incremental stream of version ${versionId} is relative to: send it whole.`,
            { cause: error, details: { versionId, baseId: options.baseId } },
          );
        }
        throw error;
      }
      return receivedUsage(versionId, live);
    },

    async createFork(forkId, { capacityBytes }) {
      await ready();
      const target = paths.live('fork', forkId);
      return (await statOf(target)) ? { mountPath: target } : makeFork(forkId, capacityBytes, null);
    },

    async forkVersion(forkId, versionId, { capacityBytes }) {
      await ready();
      const target = paths.live('fork', forkId);
      const source = paths.live('version', versionId);
      const gone = () => notFound('btrfs', 'version', versionId, { where: root });
      // A failed snapshot of a version removed meanwhile (renamed to its trash name before the
      // snapshot opened it) is NOT_FOUND; any other failure stands.
      const goneOr = async (error: unknown): Promise<never> => {
        if (!(error instanceof CommandFailedError) || (await statOf(source))) throw error;
        await purge(paths.temp('fork', forkId));
        return gone();
      };
      const id = committed.get(versionId);
      const [existing, there, inherited] = await Promise.all([
        statOf(target),
        statOf(source),
        id === undefined ? undefined : qgroups?.read(id),
      ]);
      if (existing) return { mountPath: target };
      if (!there) gone();
      if (inherited?.limit === capacityBytes) {
        // This process gave the version the limit this fork asks for (see measureNew), and the
        // snapshot inherits it: the fork is whole, limit included, in one step, so it needs no
        // temporary name either.
        await snapshot(source, target).catch(goneOr);
        headroom.set(forkId, capacityBytes - inherited.referenced);
        return { mountPath: target };
      }
      return makeFork(forkId, capacityBytes, source).catch(goneOr);
    },

    async commitFork(forkId, versionId): Promise<Usage> {
      await ready();
      const fork = paths.live('fork', forkId);
      const version = paths.live('version', versionId);
      // The qgroups before the snapshot, read beside the checks: a subvolume made in between
      // makes the new one ambiguous, which only costs a `qgroup show`.
      const [versionThere, forkThere, before] = await Promise.all([
        statOf(version),
        statOf(fork),
        qgroups?.ids(),
      ]);
      if (versionThere && forkThere && !(await snapshotOf(version, fork))) {
        versionExists(forkId, versionId, { root });
      }
      if (!versionThere) {
        if (!forkThere) notFound('btrfs', 'fork', forkId, { where: root, details: { versionId } });
        // One atomic step, so no temporary name: the snapshot flushes the fork's dirty data,
        // then creates the read-only subvolume and its directory entry in one transaction
        // commit, which also makes it durable. A crash leaves either no version or all of it.
        await snapshot(fork, version, true);
      }
      // The fork goes to its trash name now and is deleted after this returns (a delete's cost
      // grows with the volume; only purge() and list() wait for it). Both steps are waited for,
      // so a failure never leaves one running behind the caller's retry.
      const [retired, measured] = await Promise.allSettled([
        retire('fork', forkId),
        settings.quota
          ? measureNew(forkId, versionId, versionThere ? undefined : before)
          : estimate(versionId, version),
      ]);
      if (retired.status === 'rejected') throw retired.reason;
      soon(retired.value, () => purge(retired.value));
      if (measured.status === 'rejected') throw measured.reason;
      return measured.value;
    },

    async discardFork(forkId) {
      await ready();
      await remove('fork', forkId);
    },

    async removeVersion(versionId) {
      await ready();
      committed.delete(versionId);
      await remove('version', versionId);
      // Destroys the qgroups of subvolumes that are gone. Kernels that keep them leave one per
      // deleted fork or version; this one (6.18) drops them itself once the cleaner is done,
      // and refuses while it is not. Either way a refusal changes nothing.
      if (settings.quota) {
        await btrfs(['qgroup', 'clear-stale', root]).catch((error: unknown) => {
          if (!(error instanceof CommandFailedError)) throw error;
        });
      }
    },

    async usage(kind, id): Promise<Usage> {
      await ready();
      const path = paths.live(kind, id);
      if (!(await statOf(path))) notFound('btrfs', kind, id, { where: root });
      if (kind === 'fork' || settings.quota) return { usedBytes: await measure(path, kind === 'fork') };
      const cached = await cachedSize(id);
      if (cached !== undefined) return { usedBytes: cached };
      const usedBytes = await measure(path, false);
      // Versions are immutable, so the figure holds for good. A file left by a removal that
      // ran meanwhile is listed under the version's id, so reconcile() removes it.
      await host.writeFile(paths.size(id), `${usedBytes}\n`);
      return { usedBytes };
    },

    async list(): Promise<BackendEntry[]> {
      await ready();
      await later.idle();
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
