import { mkdir, readdir, readlink, realpath, rename, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CacheVolumeError } from '../../errors.js';
import type { ForkLink, LinkMethod } from '../../model/state.js';
import { ensureForkDirectory, errnoOf, lstatOrNull } from './fork-dirs.js';
import { bindMountArgv, runMountCommand, unmountArgv } from './mount-commands.js';
import { filesystemPath, type MountEntry, mountAt, mountShows, readMounts } from './mountinfo.js';
import type { LinkResult } from './options.js';

/** One cache path to link, resolved. */
export interface PlannedLink {
  /** The cache path as given. */
  path: string;
  /** Where the link goes (absolute). */
  linkPath: string;
  /** The fork's sub-directory (relative). */
  subdir: string;
  /** The directory the link must stay inside. */
  within: string;
}

/** What linking one path needs to know about the fork and the engine. */
export interface LinkContext {
  /** The fork's id. */
  forkId: string;
  /** The fork's root directory. */
  mountPath: string;
  /** The preferred method (bind only where permitted). */
  method: LinkMethod;
  /** Fall back to a symlink when the bind mount fails. */
  fallback: boolean;
  /** Move things in the way aside. */
  replace: boolean;
  /** The clock, to name moved-aside paths. */
  now(): number;
  /** Tells whether a fork (of any volume) is live: attached, or being committed. */
  isLive(forkId: string, linkPath: string): Promise<boolean>;
  /** Records a link in the fork's record before it is made. */
  record(link: ForkLink): Promise<void>;
}

export function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function refuse(
  code: 'ALREADY_EXISTS' | 'CONFLICT' | 'INVALID_ARGUMENT',
  path: string,
  message: string,
): never {
  throw new CacheVolumeError(code, message, { details: { path } });
}

/**
 * Refuses a link whose parent directories leave `within` through a symlink (a checked-in
 * `vendor -> /etc` must not turn `vendor/bundle` into `/etc/bundle`), or pass through a file.
 */
async function checkParents(plan: PlannedLink): Promise<void> {
  const realWithin = await realpath(plan.within).catch((error: unknown) => {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Cannot link ${plan.linkPath}: ${plan.within} does not exist.`,
      {
        cause: error,
        details: { path: plan.linkPath },
      },
    );
  });
  let current = plan.within;
  for (const part of relative(plan.within, dirname(plan.linkPath)).split(sep).filter(Boolean)) {
    current = resolve(current, part);
    const info = await lstatOrNull(current);
    if (!info) return;
    if (info.isSymbolicLink() && !inside(realWithin, await realpath(current).catch(() => current)))
      refuse(
        'INVALID_ARGUMENT',
        plan.linkPath,
        `Cannot link ${plan.linkPath}: ${current} is a symlink that leads outside ${plan.within}.`,
      );
    if (!info.isSymbolicLink() && !info.isDirectory())
      refuse(
        'ALREADY_EXISTS',
        plan.linkPath,
        `Cannot link ${plan.linkPath}: ${current} is a file, not a directory.`,
      );
  }
}

/** Whose a bind mount is: one of our forks (by id), or `null` for a mount that is not ours. */
async function mountOwner(
  mounts: readonly MountEntry[],
  entry: MountEntry,
  forksDir: string,
): Promise<string | null> {
  const names = await readdir(forksDir).catch(() => [] as string[]);
  for (const name of names) {
    const dir = filesystemPath(mounts, join(forksDir, name));
    if (dir && mountShows(entry, dir)) return name;
  }
  // A fork whose data is gone (discarded under the mount), or anything else of the backend's
  // (a version): a leftover of ours, of no live fork.
  const all = filesystemPath(mounts, forksDir);
  if (entry.deleted && all && mountShows(entry, all))
    return relative(all.path, entry.root).split('/')[0] || '';
  const root = filesystemPath(mounts, dirname(forksDir));
  return root && mountShows(entry, root) ? '' : null;
}

/** Unmounts, lazily when the mount is busy. */
export async function unmount(path: string): Promise<string | undefined> {
  try {
    await runMountCommand(unmountArgv(path));
    return undefined;
  } catch (error) {
    await runMountCommand(unmountArgv(path, true));
    return `unmounted lazily: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function otherLive(path: string, forkId: string): never {
  refuse(
    'CONFLICT',
    path,
    `${path} is linked to fork ${forkId}, which is still attached (another job in the same working directory?). Run the jobs in separate working directories, or end that fork first (cachevol abandon ${forkId}).`,
  );
}

/**
 * Links one cache path to the fork's sub-directory, as a bind mount or a symlink. See
 * `ForkHandle.link` for the rules.
 *
 * @param plan - the path
 * @param ctx - the fork and the engine
 * @returns what was done (never `skipped`: a refusal throws)
 */
export async function linkOne(plan: PlannedLink, ctx: LinkContext): Promise<LinkResult> {
  const { linkPath } = plan;
  if (!inside(plan.within, linkPath) || linkPath === plan.within)
    refuse('INVALID_ARGUMENT', linkPath, `Cannot link ${linkPath}: it is not inside ${plan.within}.`);
  await checkParents(plan);
  const repaired = await ensureForkDirectory(ctx.mountPath, plan.subdir);
  const target = join(ctx.mountPath, plan.subdir);
  const forksDir = dirname(ctx.mountPath);
  await mkdir(dirname(linkPath), { recursive: true });
  const base = { path: plan.path, linkPath, target, within: plan.within, repaired };

  let action: LinkResult['action'] = 'created';
  let movedTo: string | undefined;
  let info = await lstatOrNull(linkPath);
  for (let round = 0; info && round < 4; round++) {
    if (info.isSymbolicLink()) {
      const pointsTo = resolve(dirname(linkPath), await readlink(linkPath));
      if (pointsTo === target) return { ...base, method: 'symlink', action: 'unchanged' };
      const owner = inside(forksDir, pointsTo) ? relative(forksDir, pointsTo).split(sep)[0] : undefined;
      if (owner && owner !== ctx.forkId && (await ctx.isLive(owner, linkPath))) otherLive(linkPath, owner);
      const dangling = await stat(linkPath).then(
        () => false,
        () => true,
      );
      if (!owner && !dangling) break; // a link of the user's: in the way
      await unlink(linkPath).catch((error) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
      action = 'relinked';
    } else if (info.isDirectory()) {
      const mounts = await readMounts();
      const real = await realpath(linkPath);
      const mounted = mountAt(mounts, real);
      if (!mounted) {
        if ((await readdir(linkPath)).length > 0) break; // the user's files: in the way
        return finish(plan, ctx, base, action, movedTo, false);
      }
      const owner = await mountOwner(mounts, mounted, forksDir);
      if (owner === null) {
        refuse(
          'ALREADY_EXISTS',
          linkPath,
          `${linkPath} is a mount point of something else; cachevol never unmounts what it did not mount. Unmount it or choose another path.`,
        );
      }
      if (owner === ctx.forkId && !mounted.deleted) return { ...base, method: 'bind', action: 'unchanged' };
      if (owner && owner !== ctx.forkId && !mounted.deleted && (await ctx.isLive(owner, linkPath)))
        otherLive(linkPath, owner);
      await unmount(linkPath); // a crashed job's mount
      action = 'relinked';
    } else {
      break; // a file: in the way
    }
    info = await lstatOrNull(linkPath);
  }
  if (info) {
    const what = info.isSymbolicLink()
      ? 'a symlink to somewhere else'
      : info.isDirectory()
        ? 'a non-empty directory'
        : 'a file';
    const aside = `${linkPath}.cachevol-replaced-${ctx.now()}`;
    if (!ctx.replace)
      refuse(
        'ALREADY_EXISTS',
        linkPath,
        `${linkPath} already exists (${what}); remove it, or pass --replace to move it aside to ${basename(aside)}.`,
      );
    await rename(linkPath, aside);
    action = 'moved-aside';
    movedTo = aside;
  }
  return finish(plan, ctx, base, action, movedTo, true);
}

/** Makes the link once the path is clear (missing, or an empty directory when `!missing`). */
async function finish(
  plan: PlannedLink,
  ctx: LinkContext,
  base: Omit<LinkResult, 'method' | 'action'>,
  action: LinkResult['action'],
  movedTo: string | undefined,
  missing: boolean,
): Promise<LinkResult> {
  const done = { ...base, action, ...(movedTo ? { movedTo } : {}) };
  const record = (method: LinkMethod, madeDir: boolean) =>
    ctx.record({ path: plan.linkPath, subdir: plan.subdir, method, madeDir });
  if (ctx.method === 'bind') {
    if (missing) await mkdir(plan.linkPath);
    await record('bind', missing);
    try {
      await runMountCommand(bindMountArgv(base.target, plan.linkPath));
      return { ...done, method: 'bind' };
    } catch (error) {
      if (missing) await rmdir(plan.linkPath).catch(() => undefined);
      if (!ctx.fallback) throw error;
      const problem = `bind mount failed, linked by symlink: ${error instanceof Error ? error.message : String(error)}`;
      await makeSymlink(plan, base.target, record);
      return { ...done, method: 'symlink', problem };
    }
  }
  await makeSymlink(plan, base.target, record);
  return { ...done, method: 'symlink' };
}

async function makeSymlink(
  plan: PlannedLink,
  target: string,
  record: (method: LinkMethod, madeDir: boolean) => Promise<void>,
): Promise<void> {
  await rmdir(plan.linkPath).catch((error) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
  await record('symlink', false);
  await symlink(target, plan.linkPath, 'dir');
}
