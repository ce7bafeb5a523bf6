import { isAbsolute } from 'node:path';
import { resolveCachePath } from '../../config/paths.js';
import { CacheVolumeError } from '../../errors.js';
import type { ForkLink, ForkRecord } from '../../model/state.js';
import { parseOptions } from '../../options.js';
import { thisHolder } from './holder.js';
import { linkOne, type PlannedLink } from './link-path.js';
import { mayBindMount } from './mount-commands.js';
import { type LinkOptions, type LinkResult, linkOptionsSchema, type UnlinkResult } from './options.js';
import { releaseLink } from './release.js';

/** What linking needs from the engine. */
export interface LinkEngine {
  /**
   * Tells whether a fork that has a link at `linkPath` is live (attached or committing, and
   * not a fork of this host whose link holder died).
   */
  isLive(forkId: string, linkPath: string): Promise<boolean>;
  /** Replaces the fork's recorded links. */
  record(links: readonly ForkLink[]): Promise<void>;
  /** The clock. */
  now(): number;
}

function linkableFork(fork: ForkRecord): string {
  const mountPath = fork.mountPath;
  if (fork.state !== 'attached' || !mountPath || !isAbsolute(mountPath)) {
    throw new CacheVolumeError(
      fork.state !== 'attached' ? 'CONFLICT' : 'INVALID_ARGUMENT',
      fork.state !== 'attached'
        ? `Cannot link fork "${fork.id}": it is ${fork.state}, not attached.`
        : `Cannot link fork "${fork.id}": its backend keeps no files on this host (${String(mountPath)}).`,
      { details: { forkId: fork.id } },
    );
  }
  return mountPath;
}

/**
 * Links cache paths to a fork's sub-directories (see `ForkHandle.link`).
 *
 * @param fork - the fork's record (attached, on this host)
 * @param paths - cache paths as written
 * @param options - see {@link LinkOptions}
 * @param engine - liveness of other forks, and the fork's record
 */
export async function linkFork(
  fork: ForkRecord,
  paths: readonly string[],
  options: LinkOptions,
  engine: LinkEngine,
): Promise<LinkResult[]> {
  const mountPath = linkableFork(fork);
  const opts = parseOptions(linkOptionsSchema, options, 'link options');
  const plans: PlannedLink[] = paths.map((path) => {
    const resolved = resolveCachePath(path, {
      workdir: opts.workdir,
      instanceRoot: opts.instanceRoot,
      os: opts.os,
    });
    const within = resolved.kind === 'relative' ? opts.workdir : opts.instanceRoot;
    return { path: resolved.path, linkPath: resolved.linkPath, subdir: resolved.subdir, within };
  });
  const bind = opts.method === 'bind' || (opts.method === 'auto' && (await mayBindMount()));
  const recorded = new Map((fork.links ?? []).map((link) => [link.path, link]));
  let self: ForkLink['holder'];
  const holder = () => (self ??= thisHolder());
  const results: LinkResult[] = [];
  for (const plan of plans) {
    try {
      results.push(
        await linkOne(plan, {
          forkId: fork.id,
          mountPath,
          method: bind ? 'bind' : 'symlink',
          fallback: opts.method === 'auto',
          replace: opts.replace,
          now: engine.now,
          isLive: engine.isLive,
          record: async (made) => {
            const link = opts.heldByProcess ? { ...made, holder: holder() } : made;
            recorded.set(link.path, link);
            await engine.record([...recorded.values()]);
          },
        }),
      );
    } catch (error) {
      // Another live fork's link is never taken over, not even in best effort: two jobs in one
      // working directory would write into each other's caches.
      if (
        opts.strict ||
        !(error instanceof CacheVolumeError) ||
        ['INTERNAL', 'CONFLICT'].includes(error.code)
      )
        throw error;
      results.push({
        path: plan.path,
        linkPath: plan.linkPath,
        target: `${mountPath}/${plan.subdir}`,
        within: plan.within,
        method: null,
        action: 'skipped',
        repaired: [],
        problem: error.message,
      });
    }
  }
  return results;
}

/**
 * Undoes every recorded link of a fork, in reverse order (see {@link releaseLink}), and clears
 * the record. A link that cannot be undone stays recorded and its error is thrown after the
 * others were tried.
 *
 * @param fork - the fork's record
 * @param capture - move directories that replaced symlinks into the fork
 * @param engine - to update the record (skipped when the fork is no longer attached)
 */
export async function unlinkFork(
  fork: ForkRecord,
  capture: boolean,
  engine: Pick<LinkEngine, 'record'>,
): Promise<UnlinkResult[]> {
  const links = fork.links ?? [];
  if (links.length === 0 || !fork.mountPath) return [];
  const results: UnlinkResult[] = [];
  const kept: ForkLink[] = [];
  let failure: unknown;
  for (const link of [...links].reverse()) {
    try {
      results.unshift(await releaseLink(link, fork.mountPath, capture));
    } catch (error) {
      kept.unshift(link);
      failure ??= error;
    }
  }
  if (fork.state === 'attached') {
    // Once every link is undone the record only tells recovery what to look at, and recovery
    // finds them gone: a store that cannot write now (a full disk) must not keep the fork from
    // being committed or abandoned.
    await engine.record(kept).catch((error: unknown) => {
      if (kept.length > 0) throw error;
    });
  }
  if (failure) throw failure;
  return results;
}
