import {
  lstat,
  mkdir,
  readdir,
  readlink,
  realpath,
  rename,
  rmdir,
  stat,
  symlink,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';

/** One configured cache path, ready to link. */
export interface LinkRequest {
  /** Absolute path where the link goes (in the working directory, or under the instance root). */
  linkPath: string;
  /** Absolute path of the fork's sub-directory the link points at (created when missing). */
  target: string;
  /** The directory the link must stay inside: the working directory or the instance root. */
  within: string;
}

/** Options for {@link linkPath}. */
export interface LinkOptions {
  /**
   * When something that is not ours is in the way, move it aside (renamed to
   * `<name>.cachevol-replaced-<time>`) instead of failing.
   * @defaultValue false
   */
  replace?: boolean;
  /**
   * A directory holding every fork of the backend (the parent of the fork's mount path): a
   * symlink into it is one of our own earlier links and is replaced silently.
   */
  ownedPrefix?: string;
  /**
   * The clock used to name moved-aside paths.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/** What {@link linkPath} did. */
export interface LinkResult extends LinkRequest {
  /**
   * - `created`: nothing was there (or an empty directory, which was removed);
   * - `unchanged`: the right link was already there;
   * - `relinked`: one of our older links (or a dangling link) was replaced;
   * - `moved-aside`: something else was there and `replace` moved it to `movedTo`.
   */
  action: 'created' | 'unchanged' | 'relinked' | 'moved-aside';
  /** Where the replaced path went, for `moved-aside`. */
  movedTo?: string;
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if (errno(error) === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Refuses a link whose parent directories leave `within` through a symlink (a checked-in
 * `vendor -> /etc` must not turn `vendor/bundle` into `/etc/bundle`).
 */
async function checkParents(request: LinkRequest): Promise<void> {
  const realWithin = await realpath(request.within).catch((error: unknown) => {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Cannot link ${request.linkPath}: ${request.within} does not exist.`,
      {
        cause: error,
        details: { path: request.linkPath },
      },
    );
  });
  let current = request.within;
  const parts = relative(request.within, dirname(request.linkPath)).split(sep).filter(Boolean);
  for (const part of parts) {
    current = resolve(current, part);
    const info = await lstatOrNull(current);
    if (!info) return;
    if (info.isSymbolicLink() && !inside(realWithin, await realpath(current).catch(() => current))) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Cannot link ${request.linkPath}: ${current} is a symlink that leads outside ${request.within}.`,
        { details: { path: request.linkPath } },
      );
    }
    if (!info.isSymbolicLink() && !info.isDirectory()) {
      throw new CacheVolumeError(
        'ALREADY_EXISTS',
        `Cannot link ${request.linkPath}: ${current} is a file, not a directory.`,
        {
          details: { path: request.linkPath },
        },
      );
    }
  }
}

/**
 * Links one sub-directory of a fork into place as a symlink.
 *
 * - Nothing there, or an empty directory: the link is created.
 * - The same link already there: nothing changes (idempotent).
 * - A link into another fork of ours (`ownedPrefix`), or a dangling link: replaced.
 * - Anything else (a file, a non-empty directory, a link elsewhere): `ALREADY_EXISTS`, unless
 *   `replace` is set, which moves it aside to `<name>.cachevol-replaced-<time>` (never deletes it).
 * - A `linkPath` outside `within`, or parents that leave it through a symlink: `INVALID_ARGUMENT`.
 *
 * @param request - where the link goes and what it points at
 * @param options - replace, ownership prefix, clock
 * @returns what was done
 *
 * @example
 * ```ts
 * await linkPath({ linkPath: '/work/app/node_modules', target: `${fork.mountPath}/node_modules`, within: '/work/app' })
 * ```
 */
export async function linkPath(request: LinkRequest, options: LinkOptions = {}): Promise<LinkResult> {
  const { linkPath: path, target, within } = request;
  if (!isAbsolute(path) || !isAbsolute(target) || !isAbsolute(within)) {
    throw new CacheVolumeError('INVALID_ARGUMENT', 'linkPath, target and within must be absolute paths.');
  }
  if (!inside(within, path) || path === within) {
    throw new CacheVolumeError('INVALID_ARGUMENT', `Cannot link ${path}: it is not inside ${within}.`, {
      details: { path },
    });
  }
  await checkParents(request);
  await mkdir(target, { recursive: true });
  await mkdir(dirname(path), { recursive: true });

  for (let attempt = 0; ; attempt++) {
    const info = await lstatOrNull(path);
    let action: LinkResult['action'] = 'created';
    let movedTo: string | undefined;
    if (info?.isSymbolicLink()) {
      const pointsTo = resolve(dirname(path), await readlink(path));
      if (pointsTo === target) return { ...request, action: 'unchanged' };
      const dangling = await stat(path).then(
        () => false,
        () => true,
      );
      const ours = options.ownedPrefix !== undefined && inside(options.ownedPrefix, pointsTo);
      if (ours || dangling) {
        await unlink(path).catch((error) => {
          if (errno(error) !== 'ENOENT') throw error;
        });
        action = 'relinked';
      }
    } else if (info?.isDirectory() && (await readdir(path)).length === 0) {
      await rmdir(path).catch((error) => {
        if (errno(error) !== 'ENOENT' && errno(error) !== 'ENOTEMPTY') throw error;
      });
    }
    if (action === 'created' && info && (await lstatOrNull(path))) {
      const what = info.isSymbolicLink()
        ? 'a symlink to somewhere else'
        : info.isDirectory()
          ? 'a non-empty directory'
          : 'a file';
      const aside = `${path}.cachevol-replaced-${(options.now ?? Date.now)()}`;
      if (!options.replace) {
        throw new CacheVolumeError(
          'ALREADY_EXISTS',
          `${path} already exists (${what}); remove it, or pass --replace to move it aside to ${basename(aside)}.`,
          { details: { path } },
        );
      }
      await rename(path, aside);
      action = 'moved-aside';
      movedTo = aside;
    }
    try {
      await symlink(target, path, 'dir');
      return { ...request, action, ...(movedTo ? { movedTo } : {}) };
    } catch (error) {
      // Another process made something here between our look and our link: look again.
      if (errno(error) !== 'EEXIST' || attempt >= 2) throw error;
    }
  }
}

/**
 * Links several paths, in order; stops at the first failure (links made so far stay; undo them
 * with {@link unlinkPaths}).
 *
 * @param requests - the links to make
 * @param options - see {@link linkPath}
 */
export async function linkPaths(
  requests: readonly LinkRequest[],
  options: LinkOptions = {},
): Promise<LinkResult[]> {
  const results: LinkResult[] = [];
  for (const request of requests) results.push(await linkPath(request, options));
  return results;
}

/**
 * Removes links made by {@link linkPaths}, but only those that still point where we made them
 * point (anything else that took their place is left alone). Never throws for a missing link.
 *
 * @param links - what `linkPaths` returned
 * @returns the paths removed
 */
export async function unlinkPaths(links: readonly LinkRequest[]): Promise<string[]> {
  const removed: string[] = [];
  for (const link of links) {
    const info = await lstatOrNull(link.linkPath);
    if (!info?.isSymbolicLink()) continue;
    if (resolve(dirname(link.linkPath), await readlink(link.linkPath)) !== link.target) continue;
    await unlink(link.linkPath).catch((error) => {
      if (errno(error) !== 'ENOENT') throw error;
    });
    removed.push(link.linkPath);
  }
  return removed;
}
