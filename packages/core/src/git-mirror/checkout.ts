import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { gitMirrorVolumeName } from '../config/special-volumes.js';
import type { CacheVolumes } from '../engine/cache-volumes.js';
import type { ForkHandle } from '../engine/fork-handle.js';
import { CacheVolumeError } from '../errors.js';
import type { AttachResult } from '../model/state.js';
import { validateName } from '../names.js';
import {
  checkoutFetchArgs,
  detachedCheckoutArgs,
  mirrorCloneArgs,
  mirrorCopyCloneArgs,
  mirrorFetchArgs,
  plainCloneArgs,
  resolveCommitArgs,
  setOriginArgs,
} from './argv.js';
import { type GitRunner, gitOutput, gitRunner } from './git.js';
import { repositoryOfUrl, validateCommit, validateRef, validateRepositoryUrl } from './inputs.js';
import { verifyPacks } from './verify-packs.js';

/** The mirror's directory inside the volume. */
export const MIRROR_DIR = 'mirror.git';

/** What {@link checkoutFromMirror} checks out, and from which mirror volume. */
export interface GitCheckoutOptions {
  /** The repository to clone (see `validateRepositoryUrl` for what is accepted). */
  url: string;
  /** Where the working tree goes: an absolute path that does not exist or is an empty directory. */
  directory: string;
  /** The commit to check out (7 to 64 hex digits). With `ref` too, the ref is what is fetched. */
  commit?: string | undefined;
  /** The branch, tag or ref to check out (or to fetch `commit` by). @defaultValue `HEAD` */
  ref?: string | undefined;
  /** The mirror volume's scope. @defaultValue `'default'` */
  scope?: string | undefined;
  /** The mirror volume's name. @defaultValue `gitMirrorVolumeName` of the URL's account and repository */
  name?: string | undefined;
  /** The job holding the mirror's fork. @defaultValue `'git-checkout'` */
  job?: string | undefined;
  /** The mirror volume's requested size, `Ng`. @defaultValue `'20g'` */
  size?: string | undefined;
  /** The git program. @defaultValue `'git'` */
  git?: string | undefined;
  /** Called with each step as it is done, e.g. `mirror hit: fetched main in 0.31 s`. */
  onProgress?: ((line: string) => void) | undefined;
  /** Called with each cache trouble that the checkout worked around (also in `warnings`). */
  onWarning?: ((line: string) => void) | undefined;
}

/** What the mirror did for a checkout. */
export interface GitMirrorReport {
  /** The mirror volume. */
  scope: string;
  /** The mirror volume's name. */
  name: string;
  /** The mirror's fork, or `null` when none could be attached. */
  forkId: string | null;
  /** How the volume served the attach, or `null` when none could be attached. */
  result: AttachResult | null;
  /**
   * `cloned` (a miss: `git clone --mirror`), `fetched` (a hit that lacked the commit, or whose
   * ref had moved: the fetch brought commits), `fetched-nothing` (a ref was fetched and had not
   * moved), `up-to-date` (a hit that had the commit: no fetch at all), `failed` (the checkout
   * was a plain clone).
   */
  action: 'cloned' | 'fetched' | 'fetched-nothing' | 'up-to-date' | 'failed';
  /**
   * What became of the fork: `committed` (as `versionId`), `unchanged` (abandoned: the mirror
   * got nothing new, the head stays), `abandoned`, `cleared` (a broken mirror was removed from it and
   * the empty fork committed, so the next job clones afresh), or `none` (no fork).
   */
  outcome: 'committed' | 'unchanged' | 'abandoned' | 'cleared' | 'none';
  /** The version committed, if any. */
  versionId: string | null;
}

/** What {@link checkoutFromMirror} did. */
export interface GitCheckoutResult {
  /** The repository. */
  url: string;
  /** The working tree. */
  directory: string;
  /** The commit checked out (full id): `HEAD` of the working tree, detached. */
  commit: string;
  /** The ref asked for, or `null`. */
  ref: string | null;
  /** `mirror`: copied from the mirror (`clone --no-hardlinks`); `plain-clone`: the fallback. */
  method: 'mirror' | 'plain-clone';
  /** The mirror's part. */
  mirror: GitMirrorReport;
  /** The cache troubles worked around, one line each. */
  warnings: string[];
  /** Where the time went. */
  timings: GitCheckoutTimings;
}

/** Milliseconds spent by each step of {@link checkoutFromMirror}. */
export interface GitCheckoutTimings {
  /** Attaching the mirror's fork. */
  attachMs: number;
  /** Cloning or fetching the mirror (0 when the commit was there). */
  mirrorMs: number;
  /** Making the working tree (from the mirror, or the plain clone). */
  checkoutMs: number;
  /** Committing or abandoning the fork. */
  commitMs: number;
  /** Everything, from the start of the call. */
  totalMs: number;
}

interface Plan {
  url: string;
  directory: string;
  commit: string | null;
  ref: string | null;
  scope: string;
  name: string;
}

function readPlan(options: GitCheckoutOptions): Plan {
  const url = validateRepositoryUrl(options?.url);
  const directory = options.directory;
  if (typeof directory !== 'string' || !isAbsolute(directory) || directory.startsWith('-'))
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid checkout directory ${JSON.stringify(directory)}: give an absolute path.`,
      { details: { directory } },
    );
  return {
    url,
    directory,
    commit: options.commit === undefined ? null : validateCommit(options.commit),
    ref: options.ref === undefined ? null : validateRef(options.ref),
    scope: validateName(options.scope ?? 'default', 'scope'),
    name: options.name === undefined ? gitMirrorVolumeName(repositoryOfUrl(url)) : validateName(options.name),
  };
}

async function checkDestination(directory: string): Promise<boolean> {
  const info = await stat(directory).catch(() => null);
  if (!info) return false;
  if (!info.isDirectory() || (await readdir(directory)).length > 0)
    throw new CacheVolumeError(
      'ALREADY_EXISTS',
      `Checkout directory ${directory} exists and is not an empty directory: give a new or empty one.`,
      { details: { directory } },
    );
  return true;
}

const since = (start: number) => Math.round(performance.now() - start);
const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`);
const message = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).split('\n').filter(Boolean).join(' ');

/** Whether `dir` has the commit `rev` names; its full id if so. */
async function resolve(git: GitRunner, dir: string, rev: string): Promise<string | null> {
  const result = await git(resolveCommitArgs(dir, rev));
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

/**
 * Brings the fork's mirror up to what the job needs and returns the commit to check out:
 * `git clone --mirror` when the fork has none, else a fetch of only the ref or commit asked for,
 * and no fetch at all when the commit is already there.
 */
async function updateMirror(
  git: GitRunner,
  plan: Plan,
  mirror: string,
): Promise<{ action: Exclude<GitMirrorReport['action'], 'failed'>; commit: string }> {
  const want = plan.commit;
  const hasMirror = (await stat(join(mirror, 'HEAD')).catch(() => null)) !== null;
  if (!hasMirror) {
    const staging = `${mirror}.partial`;
    await rm(mirror, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
    await gitOutput(git, mirrorCloneArgs(plan.url, staging));
    await rename(staging, mirror);
    let commit = await resolve(git, mirror, want ?? plan.ref ?? 'HEAD');
    if (!commit && want) {
      await gitOutput(git, mirrorFetchArgs(mirror, [want]));
      commit = await resolve(git, mirror, want);
    }
    if (!commit) throw notInRepository(plan);
    return { action: 'cloned', commit };
  }
  if (want) {
    const present = await resolve(git, mirror, want);
    if (present) return { action: 'up-to-date', commit: present };
  }
  const before = await resolve(git, mirror, plan.ref ?? 'HEAD');
  // The volume is the repository's, whatever URL the mirror was cloned from (https or ssh, an
  // old host name): fetch from the URL this job was given.
  await gitOutput(git, setOriginArgs(mirror, plan.url));
  await gitOutput(git, mirrorFetchArgs(mirror, [plan.ref ?? want ?? 'HEAD']));
  const fetched = await resolve(git, mirror, 'FETCH_HEAD');
  let commit = want ? await resolve(git, mirror, want) : fetched;
  if (!commit && want && plan.ref) {
    await gitOutput(git, mirrorFetchArgs(mirror, [want]));
    commit = await resolve(git, mirror, want);
    if (commit) return { action: 'fetched', commit };
  }
  if (!commit) throw notInRepository(plan);
  return { action: fetched === before ? 'fetched-nothing' : 'fetched', commit };
}

function notInRepository(plan: Plan): CacheVolumeError {
  const what = plan.commit ? `commit ${plan.commit}` : `ref ${plan.ref ?? 'HEAD'}`;
  return new CacheVolumeError('NOT_FOUND', `The repository ${plan.url} has no ${what}.`, {
    details: { url: plan.url, commit: plan.commit, ref: plan.ref },
  });
}

/** Checks out `commit` in a clone that may lack it (fetched by id then). */
async function checkout(git: GitRunner, plan: Plan, commit: string): Promise<string> {
  if (!(await resolve(git, plan.directory, commit)))
    await gitOutput(git, checkoutFetchArgs(plan.directory, commit));
  await gitOutput(git, detachedCheckoutArgs(plan.directory, commit));
  return gitOutput(git, ['-C', plan.directory, 'rev-parse', 'HEAD']);
}

/** The fallback: a plain clone, then the commit or ref asked for. */
async function plainClone(git: GitRunner, plan: Plan): Promise<string> {
  await gitOutput(git, plainCloneArgs(plan.url, plan.directory));
  let commit = plan.commit ? await resolve(git, plan.directory, plan.commit) : null;
  if (!commit && (plan.ref ?? 'HEAD') !== 'HEAD') {
    await gitOutput(git, checkoutFetchArgs(plan.directory, plan.ref as string));
    commit = plan.commit ?? (await resolve(git, plan.directory, 'FETCH_HEAD'));
  } else if (!commit) commit = plan.commit ?? (await resolve(git, plan.directory, 'HEAD'));
  if (!commit) throw notInRepository(plan);
  return checkout(git, plan, commit);
}

async function clearDirectory(directory: string, existed: boolean): Promise<void> {
  await rm(directory, { recursive: true, force: true });
  if (existed) await mkdir(directory);
}

/**
 * Checks out a repository at a commit or ref from its **git mirror volume** (one per
 * repository, `buildkite-git-mirror-<account>-<repository>`): attaches a fork of the volume,
 * clones the repository into it with `git clone --mirror` on a miss, or on a hit fetches only the
 * ref or commit the job needs (no fetch at all when the commit is already there), checks the
 * mirror's packs against their checksums, checks out into `directory` from a copy of the mirror
 * (`git clone --no-hardlinks <mirror>`, then `origin` set to the URL: the working tree never
 * points into the fork, which is gone once committed, nor shares a file with it), then commits
 * the fork when the mirror changed (and abandons it when it did not: the head stays).
 *
 * Best effort: any trouble with the cache (the attach, a broken mirror, a failed fetch into it)
 * is a warning and the checkout is a plain `git clone`; a mirror found broken while the
 * repository answers is removed from the volume (the empty fork is committed) so that the next
 * job clones it afresh. Only the repository's own failure (an unreachable URL, a missing
 * commit) is an error.
 *
 * Every value reaches git as one argument of an array (no shell), after validation: the URL's
 * transport (no `ext::`), the commit, the ref; none may start with `-`.
 *
 * @param volumes - the engine holding the mirror volume; `null` when it could not be opened
 *   (the checkout is then a plain clone, with a warning)
 * @param options - the repository, the commit or ref, the directory, the volume
 * @returns what was checked out, how, and what the mirror did
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for a bad URL, commit, ref or directory;
 *   `ALREADY_EXISTS` when the directory is not empty; `NOT_FOUND` when the repository cannot be
 *   cloned or lacks the commit (the repository's failure, never the cache's)
 *
 * @example
 * ```ts
 * import { checkoutFromMirror } from '@cachevol/core/git-mirror'
 * const done = await checkoutFromMirror(volumes, {
 *   url: 'https://github.com/acme/widgets.git',
 *   commit: process.env.BUILDKITE_COMMIT,
 *   directory: '/workspace/widgets',
 * })
 * console.log(done.method, done.mirror.action) // 'mirror' 'up-to-date'
 * ```
 */
export async function checkoutFromMirror(
  volumes: CacheVolumes | null,
  options: GitCheckoutOptions,
): Promise<GitCheckoutResult> {
  const started = performance.now();
  const plan = readPlan(options);
  const git = gitRunner(options.git ?? 'git');
  const existed = await checkDestination(plan.directory);
  const warnings: string[] = [];
  const progress = (line: string) => options.onProgress?.(line);
  const warn = (line: string) => {
    warnings.push(line);
    options.onWarning?.(line);
  };
  const label = `git mirror ${plan.scope}/${plan.name}`;
  const report: GitMirrorReport = {
    scope: plan.scope,
    name: plan.name,
    forkId: null,
    result: null,
    action: 'failed',
    outcome: 'none',
    versionId: null,
  };
  const timings: GitCheckoutTimings = { attachMs: 0, mirrorMs: 0, checkoutMs: 0, commitMs: 0, totalMs: 0 };

  let fork: ForkHandle | null = null;
  let step = performance.now();
  try {
    if (!volumes) throw new Error('no cache engine');
    fork = await volumes.attach(plan.name, {
      scope: plan.scope,
      job: options.job ?? 'git-checkout',
      ...(options.size === undefined ? {} : { size: options.size }),
    });
    report.forkId = fork.id;
    report.result = fork.result;
    timings.attachMs = since(step);
    progress(
      `${label}: ${fork.result}${fork.baseVersionId ? ` (${fork.baseVersionId})` : ''} in ${seconds(timings.attachMs)}`,
    );
  } catch (error) {
    warn(`${label}: could not attach (${message(error)}); cloning without the mirror`);
  }

  let commit: string | null = null;
  let mirrorTrouble = false;
  if (fork) {
    const mirror = join(fork.mountPath, MIRROR_DIR);
    try {
      step = performance.now();
      const updated = await updateMirror(git, plan, mirror);
      timings.mirrorMs = since(step);
      progress(`${label}: ${updated.action} ${updated.commit.slice(0, 12)} in ${seconds(timings.mirrorMs)}`);
      step = performance.now();
      await verifyPacks(mirror);
      await gitOutput(git, mirrorCopyCloneArgs(mirror, plan.directory));
      await gitOutput(git, setOriginArgs(plan.directory, plan.url));
      commit = await checkout(git, plan, updated.commit);
      timings.checkoutMs = since(step);
      report.action = updated.action;
      progress(
        `checked out ${commit.slice(0, 12)} into ${plan.directory} from the mirror in ${seconds(timings.checkoutMs)}`,
      );
    } catch (error) {
      mirrorTrouble = true;
      warn(`${label}: ${message(error)}; falling back to a plain clone`);
      await clearDirectory(plan.directory, existed);
    }
  }

  if (commit === null) {
    step = performance.now();
    try {
      commit = await plainClone(git, plan);
    } catch (error) {
      if (fork) await volumes?.abandon(fork.id).catch(() => undefined);
      if (fork) report.outcome = 'abandoned';
      await clearDirectory(plan.directory, existed).catch(() => undefined);
      throw new CacheVolumeError(
        'NOT_FOUND',
        `Could not check out ${plan.url}${plan.commit ? ` at ${plan.commit}` : plan.ref ? ` at ${plan.ref}` : ''}: ${message(error)}. This is the repository's failure, not the cache's: check the URL, the commit or ref, and that the server answers.`,
        { cause: error, details: { url: plan.url, commit: plan.commit, ref: plan.ref, mirror: report } },
      );
    }
    timings.checkoutMs = since(step);
    progress(
      `checked out ${commit.slice(0, 12)} into ${plan.directory} by a plain clone in ${seconds(timings.checkoutMs)}`,
    );
  }

  if (fork && volumes) {
    step = performance.now();
    try {
      if (mirrorTrouble && fork.result !== 'miss') {
        // The repository answered, the mirror did not: never keep a broken mirror as the head.
        await rm(join(fork.mountPath, MIRROR_DIR), { recursive: true, force: true });
        report.versionId = (await volumes.commit(fork.id)).id;
        report.outcome = 'cleared';
        warn(`${label}: removed the broken mirror from the volume; the next job clones it again`);
      } else if (mirrorTrouble || report.action === 'up-to-date' || report.action === 'fetched-nothing') {
        await volumes.abandon(fork.id);
        report.outcome = mirrorTrouble ? 'abandoned' : 'unchanged';
      } else {
        report.versionId = (await volumes.commit(fork.id)).id;
        report.outcome = 'committed';
      }
    } catch (error) {
      warn(`${label}: could not end the mirror's fork ${fork.id} (${message(error)})`);
      await volumes.abandon(fork.id).catch(() => undefined);
      report.outcome = 'abandoned';
    }
    timings.commitMs = since(step);
    progress(
      `${label}: ${report.outcome}${report.versionId ? ` as ${report.versionId}` : ''} in ${seconds(timings.commitMs)}`,
    );
  }
  timings.totalMs = since(started);
  return {
    url: plan.url,
    directory: plan.directory,
    commit,
    ref: plan.ref,
    method: mirrorTrouble || !fork ? 'plain-clone' : 'mirror',
    mirror: report,
    warnings,
    timings,
  };
}
