import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type Backend,
  type BackendCapabilities,
  type BackendEntry,
  CacheVolumeError,
  CommandFailedError,
  type EntryKind,
  type ForkMount,
  parseOptions,
  type Usage,
  validateId,
} from '@cachevol/core';
import {
  defineBackend,
  notFound as kitNotFound,
  once,
  retryWhileBusy,
  statOrNull,
  versionExists,
} from '@cachevol/core/backend-kit';
import { type CommandResult, createProcessRunner } from './command-runner.js';
import {
  attachArgv,
  type Command,
  cloneArgv,
  createArgv,
  imageBytes,
  infoArgv,
  resizeArgv,
  syncArgv,
} from './internal/argv.js';
import { allocatedBytes } from './internal/bundle-usage.js';
import { type DetachContext, detachImage } from './internal/detach.js';
import { commandFailed, spawnFailed } from './internal/failures.js';
import {
  buildingPath,
  bundlePath,
  entryOfPath,
  layoutDirectories,
  layoutOf,
  mountPathOf,
  parseEntryName,
  trashPath,
} from './internal/layout.js';
import {
  type AttachedImage,
  parseAttachOutput,
  parseBundleInfo,
  parseInfoOutput,
} from './internal/plist-output.js';
import { normalizeMacosPath, reservedPathProblem } from './internal/reserved-paths.js';
import { type SparseBundleBackendOptions, sparseBundleBackendOptionsSchema } from './options.js';

/** The sparsebundle backend: a {@link Backend} plus read-only access to versions and crash clean-up. */
export interface SparseBundleBackend extends Backend {
  /** Always `"sparsebundle"`. */
  readonly name: 'sparsebundle';
  /** The backend root, normalised. */
  readonly root: string;
  /**
   * Attaches a version read-only (`hdiutil attach -readonly`) at `<root>/mounts/versions/<id>`
   * so its files can be read; idempotent. Detach it with {@link SparseBundleBackend.unmountVersion}.
   *
   * @param versionId - the version
   * @throws `NOT_FOUND` when the version does not exist
   */
  mountVersion(versionId: string): Promise<ForkMount>;
  /**
   * Detaches a version attached by {@link SparseBundleBackend.mountVersion}. Not attached: does
   * nothing.
   *
   * @param versionId - the version
   */
  unmountVersion(versionId: string): Promise<void>;
  /**
   * Detaches every image under the root that is not a live fork attached at its own mount point:
   * versions left attached read-only, bundles left attached by a crash in the middle of an
   * operation, images attached at the wrong place. Call it once at start-up, before
   * `CacheVolumes.reconcile()` (which removes what no record owns).
   *
   * @returns the image paths it detached
   */
  detachLeftovers(): Promise<string[]>;
}

const CAPABILITIES: BackendCapabilities = Object.freeze({
  copyOnWrite: true,
  // Cloning is per band file (8 MiB each) with no file data copied: fast, but it grows with the
  // number of bands, so it is not claimed as constant time.
  constantTime: false,
  quota: true,
  transfer: false,
  changeDetection: false,
});

const notFound = (kind: EntryKind, id: string): never => kitNotFound('sparsebundle', kind, id);

async function exists(path: string): Promise<boolean> {
  return (await statOrNull(path)) !== null;
}

async function isMountPoint(path: string): Promise<boolean> {
  const [self, parent] = await Promise.all([lstat(path), stat(dirname(path))]);
  return self.isDirectory() && self.dev !== parent.dev;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates the macOS backend: every fork is an APFS sparse bundle disk image attached at a mount
 * point under the root; forks of a version are APFS clones (`cp -c`) of its bundle, so no file
 * data is copied; capacity is the image's logical size, which APFS enforces (`ENOSPC`).
 *
 * Layout under `root`: `forks/<id>.sparsebundle` (attached at `mounts/forks/<id>`),
 * `versions/<id>.sparsebundle` (detached), `building/` and `trash/` for half-made and
 * half-deleted bundles. Every operation is idempotent and finds attachments with
 * `hdiutil info -plist`, so it works after a crash or a reboot.
 *
 * @param options - root and tuning; see {@link SparseBundleBackendOptions}
 * @throws `INVALID_ARGUMENT` for bad options (a relative or reserved root, …)
 * @throws `BACKEND_UNAVAILABLE` off macOS (unless a `runner` is given)
 *
 * @example
 * ```ts
 * const backend = createSparseBundleBackend({ root: '/Users/ci/cachevol' })
 * const volumes = new CacheVolumes({ backend, store: createMemoryStore() })
 * await backend.detachLeftovers()
 * await volumes.reconcile()
 * ```
 */
export function createSparseBundleBackend(options: SparseBundleBackendOptions): SparseBundleBackend {
  const settings = parseOptions(sparseBundleBackendOptionsSchema, options, 'sparsebundle backend options');
  if (!settings.runner && process.platform !== 'darwin') {
    throw new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `The sparsebundle backend needs macOS (hdiutil and APFS); this host runs ${process.platform}. Use the dir, btrfs or zfs backend here.`,
      { details: { platform: process.platform } },
    );
  }
  const runner = settings.runner ?? createProcessRunner({ timeoutMs: settings.commandTimeoutMs });
  const root = normalizeMacosPath(settings.root);
  const layout = layoutOf(root);
  let spellings = [root];

  const exec = async (command: Command): Promise<CommandResult> => {
    try {
      return await runner(command.command, command.args);
    } catch (error) {
      throw spawnFailed(command, error);
    }
  };
  const must = async (command: Command): Promise<CommandResult> => {
    const result = await exec(command);
    if (result.exitCode !== 0) throw commandFailed(command, result);
    return result;
  };
  /** `must`, tried up to `detachAttempts` times while busy (a busy failure is `CONFLICT`). */
  const busyPauses = Array.from(
    { length: Math.max(0, settings.detachAttempts - 1) },
    () => settings.retryDelayMs,
  );
  const mustWhileBusy = (command: Command): Promise<CommandResult> =>
    retryWhileBusy(() => must(command), {
      isBusy: (error) => error instanceof CommandFailedError && error.code === 'CONFLICT',
      delaysMs: busyPauses,
      pause: sleep,
    });

  /** Creates the layout once, and refuses a root that resolves to a reserved path. */
  const prepare = once(async (): Promise<void> => {
    for (const dir of layoutDirectories(layout)) await mkdir(dir, { recursive: true });
    const real = await realpath(root);
    const problem = reservedPathProblem(real);
    if (problem) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Invalid sparsebundle backend options: root: ${problem}.`,
        {
          details: { root, realpath: real },
        },
      );
    }
    spellings = [...new Set([root, real])];
  });

  /** Spells a path hdiutil reported (perhaps through `/private`) from the root as given. */
  const fromRoot = (reported: string): string => {
    const path = normalizeMacosPath(reported);
    for (const spelling of spellings) {
      if (path === spelling) return root;
      if (path.startsWith(`${spelling}/`)) return root + path.slice(spelling.length);
    }
    return path;
  };

  const attachedImages = async (): Promise<AttachedImage[]> => {
    const images = parseInfoOutput((await must(infoArgv())).stdout);
    const ours: AttachedImage[] = [];
    for (const image of images) {
      const mine: AttachedImage = { ...image, imagePath: fromRoot(image.imagePath) };
      if (image.mountPoint) mine.mountPoint = fromRoot(image.mountPoint);
      if (mine.imagePath.startsWith(`${root}/`) || mine.mountPoint?.startsWith(`${root}/`)) ours.push(mine);
    }
    return ours;
  };

  const detachContext: DetachContext = {
    run: exec,
    find: async (imagePath) => (await attachedImages()).find((image) => image.imagePath === imagePath),
    sleep,
    attempts: settings.detachAttempts,
    delayMs: settings.retryDelayMs,
  };

  /** Detaches every image attached from one of `paths` or mounted at `mountPath`. */
  const detachFrom = async (paths: readonly string[], mountPath: string): Promise<void> => {
    for (const image of await attachedImages()) {
      if (paths.includes(image.imagePath) || image.mountPoint === mountPath)
        await detachImage(detachContext, image);
    }
  };

  /** Removes a mount point once nothing is mounted on it. */
  const removeMountPoint = async (path: string): Promise<void> => {
    if (!(await exists(path))) return;
    if (await isMountPoint(path)) {
      throw new CacheVolumeError(
        'CONFLICT',
        `${path} is still a mount point after its image was detached; unmount it (\`diskutil unmount ${path}\`) and retry.`,
        { details: { path } },
      );
    }
    await rm(path, { recursive: true, force: true });
  };

  /** Deletes a bundle by renaming it into the trash first. */
  const trashBundle = async (path: string, trash: string): Promise<void> => {
    await rm(trash, { recursive: true, force: true });
    try {
      await rename(path, trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await rm(trash, { recursive: true, force: true });
  };

  /** Makes sure `bundle` is attached (writable, or read-only) at its own mount point. */
  const ensureAttached = async (
    kind: EntryKind,
    id: string,
    bundle: string,
    readonly: boolean,
  ): Promise<ForkMount> => {
    const mountPath = mountPathOf(layout, kind, id);
    for (const image of await attachedImages()) {
      if (image.imagePath !== bundle && image.mountPoint !== mountPath) continue;
      const right =
        image.imagePath === bundle &&
        image.mountPoint === mountPath &&
        (image.writable === undefined || image.writable === !readonly);
      if (right) return { mountPath };
      await detachImage(detachContext, image);
    }
    await mkdir(mountPath, { recursive: true });
    const attachment = parseAttachOutput(
      (await mustWhileBusy(attachArgv(bundle, mountPath, readonly))).stdout,
    );
    const mountedAt = attachment.mountPoint ? fromRoot(attachment.mountPoint) : undefined;
    if (mountedAt !== mountPath) {
      await detachImage(detachContext, { ...attachment, imagePath: bundle });
      throw new CacheVolumeError(
        'BACKEND_FAILED',
        `hdiutil attached ${bundle} but mounted its volume at ${mountedAt ?? 'no mount point'} instead of ${mountPath}; it was detached again. Check the image with \`hdiutil attach ${bundle}\`.`,
        { details: { bundle, mountPath, mountedAt } },
      );
    }
    return { mountPath };
  };

  const buildFork = async (forkId: string, build: (building: string) => Promise<void>): Promise<void> => {
    const building = buildingPath(layout, 'fork', forkId);
    await rm(building, { recursive: true, force: true });
    try {
      await build(building);
      await rename(building, bundlePath(layout, 'fork', forkId));
    } catch (error) {
      await rm(building, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  };

  const removeEntry = async (kind: EntryKind, id: string): Promise<void> => {
    await prepare();
    const bundle = bundlePath(layout, kind, id);
    const building = buildingPath(layout, kind, id);
    const trash = trashPath(layout, kind, id);
    const mountPath = mountPathOf(layout, kind, id);
    await detachFrom([bundle, building, trash], mountPath);
    await trashBundle(bundle, trash);
    await rm(building, { recursive: true, force: true });
    await removeMountPoint(mountPath);
  };

  // Ids, capacities and kinds are checked by defineBackend before the contract's methods run;
  // the extra methods (mountVersion, unmountVersion) check their own.
  return defineBackend<SparseBundleBackend>({
    name: 'sparsebundle',
    capabilities: CAPABILITIES,
    root,
    ready: prepare,

    async createFork(forkId, { capacityBytes }) {
      await prepare();
      if (!(await exists(bundlePath(layout, 'fork', forkId)))) {
        await buildFork(forkId, async (building) => {
          await must(
            createArgv({
              bundlePath: building,
              capacityBytes,
              volumeName: `${settings.volumeNamePrefix}-${forkId}`,
              spotlight: settings.spotlight,
            }),
          );
        });
      }
      return ensureAttached('fork', forkId, bundlePath(layout, 'fork', forkId), false);
    },

    async forkVersion(forkId, versionId, { capacityBytes }) {
      await prepare();
      const fork = bundlePath(layout, 'fork', forkId);
      if (!(await exists(fork))) {
        const version = bundlePath(layout, 'version', versionId);
        if (!(await exists(version))) notFound('version', versionId);
        await buildFork(forkId, async (building) => {
          await must(cloneArgv(version, building));
          const info = parseBundleInfo(await readFile(join(building, 'Info.plist')), building);
          if (imageBytes(capacityBytes) > info.sizeBytes) await must(resizeArgv(building, capacityBytes));
        });
      }
      return ensureAttached('fork', forkId, fork, false);
    },

    async commitFork(forkId, versionId): Promise<Usage> {
      await prepare();
      const fork = bundlePath(layout, 'fork', forkId);
      const version = bundlePath(layout, 'version', versionId);
      const mountPath = mountPathOf(layout, 'fork', forkId);
      if (!(await exists(fork))) {
        if (!(await exists(version))) notFound('fork', forkId);
        await removeMountPoint(mountPath);
        return { usedBytes: await allocatedBytes(version) };
      }
      // A rename commits, atomically: a version beside the fork is another fork's.
      if (await exists(version)) versionExists(forkId, versionId);
      await must(syncArgv());
      await detachFrom([fork], mountPath);
      await rename(fork, version);
      await removeMountPoint(mountPath);
      return { usedBytes: await allocatedBytes(version) };
    },

    async discardFork(forkId) {
      await removeEntry('fork', forkId);
    },

    async removeVersion(versionId) {
      await removeEntry('version', versionId);
    },

    async usage(kind, id): Promise<Usage> {
      await prepare();
      const bundle = bundlePath(layout, kind, id);
      if (!(await exists(bundle))) notFound(kind, id);
      return { usedBytes: await allocatedBytes(bundle) };
    },

    async list(): Promise<BackendEntry[]> {
      await prepare();
      const found = new Map<string, BackendEntry>();
      const add = (entry: BackendEntry | undefined) => {
        if (entry) found.set(`${entry.kind}:${entry.id}`, entry);
      };
      const places = [
        [layout.forks, 'bundle', 'fork'],
        [layout.versions, 'bundle', 'version'],
        [layout.building, 'tagged', undefined],
        [layout.trash, 'tagged', undefined],
        [layout.forkMounts, 'plain', 'fork'],
        [layout.versionMounts, 'plain', 'version'],
      ] as const;
      for (const [dir, shape, kind] of places) {
        for (const name of await readdir(dir)) add(parseEntryName(name, shape, kind));
      }
      for (const image of await attachedImages()) {
        add(entryOfPath(layout, image.imagePath));
        if (image.mountPoint) add(entryOfPath(layout, image.mountPoint));
      }
      return [...found.values()];
    },

    async mountVersion(versionId) {
      validateId(versionId, 'version id');
      await prepare();
      const version = bundlePath(layout, 'version', versionId);
      if (!(await exists(version))) notFound('version', versionId);
      return ensureAttached('version', versionId, version, true);
    },

    async unmountVersion(versionId) {
      validateId(versionId, 'version id');
      await prepare();
      const mountPath = mountPathOf(layout, 'version', versionId);
      await detachFrom([bundlePath(layout, 'version', versionId)], mountPath);
      await removeMountPoint(mountPath);
    },

    async detachLeftovers() {
      await prepare();
      const detached: string[] = [];
      for (const image of await attachedImages()) {
        const entry = entryOfPath(layout, image.imagePath);
        const liveFork =
          entry?.kind === 'fork' &&
          image.imagePath === bundlePath(layout, 'fork', entry.id) &&
          image.mountPoint === mountPathOf(layout, 'fork', entry.id) &&
          image.writable !== false;
        if (liveFork) continue;
        await detachImage(detachContext, image);
        detached.push(image.imagePath);
        if (image.mountPoint && entryOfPath(layout, image.mountPoint))
          await removeMountPoint(image.mountPoint);
      }
      return detached;
    },
  });
}
