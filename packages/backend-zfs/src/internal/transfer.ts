import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { CacheVolumeError, CommandFailedError, type EntryKind, type Usage } from '@cachevol/core';
import { extractTarZstd, tarZstdStream, verifiedInput } from '@cachevol/core/backend-kit';
import type { ZfsBackend } from '../types.js';
import { snapshotArgs } from './commands.js';
import { type Layout, scratchDataset, snapshotOf, versionDataset } from './layout.js';
import type { ZfsStreams } from './runner.js';
import { scratchOf, type Tree, versionSnapshot } from './tree.js';

/** What the transfer methods use of the backend (see `operations.ts`). */
export interface TransferParts {
  layout: Layout;
  /** Runs `zfs` (busy-retrying). */
  zfs: (args: readonly string[]) => Promise<string>;
  streams: ZfsStreams;
  readRoot: () => Promise<Tree>;
  forksMountRoot: () => Promise<string>;
  /** Waits for this process's filing of a version, if one runs. */
  filed: (versionId: string) => Promise<void>;
  destroyFork: (dataset: string, mounted: boolean) => Promise<void>;
  versionUsage: (versionId: string) => Promise<Usage>;
  notFound: (kind: EntryKind, id: string) => never;
}

/** What `zfs receive` says when the base of an incremental stream is not there. */
const MISSING_BASE =
  /local origin for clone .* does not exist|most recent snapshot .* does not match|destination .* does not exist/i;

/**
 * Moving versions between hosts on ZFS: `zfs send` of a version's snapshot (with `-i` from the
 * version it was forked from, when the receiver holds that one: ZFS finds its copy by the
 * snapshot's GUID, which a receive keeps), and `zfs receive -u` under a scratch name,
 * `versions/<id>.recv`, renamed to `versions/<id>` once the digest matched. `tar-zstd` is sent
 * from a read-only clone of the snapshot (`forks/<id>.send-<random>`, destroyed after) and
 * received into a new dataset (`forks/<id>.recv`) that is then snapshotted, unmounted and renamed.
 * Scratch names hold a `.`, which ids never do; `list()` reports them under the version's id, and
 * `removeVersion` destroys them.
 *
 * @param parts - what the methods use of the backend
 */
export function zfsTransfer(
  parts: TransferParts,
): Pick<ZfsBackend, 'transferFormats' | 'sendVersion' | 'receiveVersion'> {
  const { layout, zfs, streams } = parts;

  /** The files of a snapshot as tar-zstd, from a read-only clone that goes when the stream ends. */
  async function* tarOf(versionId: string, snapshot: string): AsyncGenerator<Uint8Array> {
    const name = `${versionId}.send-${randomBytes(4).toString('hex')}`;
    const clone = `${layout.forks}/${name}`;
    await zfs(['clone', '-o', 'readonly=on', snapshot, clone]);
    try {
      yield* tarZstdStream(posix.join(await parts.forksMountRoot(), name));
    } finally {
      await parts.destroyFork(clone, true);
    }
  }

  /** Receives a stream into `scratch`, which ends up a filesystem with the snapshot `@v`. */
  async function receiveInto(scratch: string, input: AsyncIterable<Uint8Array>, tar: boolean): Promise<void> {
    const mountRoot = await parts.forksMountRoot(); // makes `forks/` and `versions/` when missing
    if (!tar) {
      await streams.input(['receive', '-u', scratch], input);
      return;
    }
    await zfs(['create', scratch]);
    await extractTarZstd(posix.join(mountRoot, scratch.slice(layout.forks.length + 1)), input);
  }

  return {
    transferFormats: ['zfs-send', 'tar-zstd'],

    async sendVersion(versionId, { baseId, format = 'zfs-send' } = {}) {
      await parts.filed(versionId);
      const tree = await parts.readRoot();
      const snapshot = versionSnapshot(tree, layout, versionId) ?? parts.notFound('version', versionId);
      if (format === 'tar-zstd') return { format, baseId: null, stream: tarOf(versionId, snapshot) };
      // `-i` only from the version's origin: the one it was forked from.
      const base = baseId === undefined ? undefined : versionSnapshot(tree, layout, baseId);
      const origin = tree.get(snapshot.slice(0, snapshot.indexOf('@')))?.origin;
      const withBase = base !== undefined && origin === base;
      const args = ['send', ...(withBase ? ['-i', base] : []), snapshot];
      return { format, baseId: withBase ? (baseId as string) : null, stream: streams.output(args) };
    },

    async receiveVersion(versionId, stream, options): Promise<Usage> {
      await parts.filed(versionId);
      const tree = await parts.readRoot();
      if (versionSnapshot(tree, layout, versionId)) return parts.versionUsage(versionId);
      const tar = options.format === 'tar-zstd';
      const scratch = scratchDataset(tar ? layout.forks : layout.versions, versionId, 'recv');
      for (const [name, info] of scratchOf(tree, layout, versionId))
        await parts.destroyFork(name, info.mounted);
      const checked = verifiedInput(stream, options);
      try {
        await receiveInto(scratch, checked.input, tar);
        await checked.verify(`version ${versionId}`);
        if (tar) {
          await zfs(snapshotArgs(snapshotOf(scratch)));
          await zfs(['unmount', scratch]); // zfs-fuse renames no mounted filesystem
        }
        await zfs(['rename', scratch, versionDataset(layout, versionId)]);
      } catch (error) {
        await parts.destroyFork(scratch, tar).catch(() => undefined);
        if (error instanceof CommandFailedError && MISSING_BASE.test(error.stderr)) {
          throw new CacheVolumeError(
            'NOT_FOUND',
            `The ZFS dataset ${layout.root} holds no copy of version ${options.baseId}, which the incremental stream of version ${versionId} is relative to: send it whole.`,
            { cause: error, details: { versionId, baseId: options.baseId } },
          );
        }
        throw error;
      }
      return parts.versionUsage(versionId);
    },
  };
}
