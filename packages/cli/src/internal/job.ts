import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import {
  type CacheOs,
  CacheVolumeError,
  type CacheVolumes,
  type CommitMode,
  DEFAULT_LEASE_MS,
  type FinishOutcome,
  type ForkHandle,
  isCacheVolumeError,
  type LinkOptions,
  type LinkResult,
  resolveCachePath,
  type UnlinkResult,
  type VolumeKey,
} from '@cachevol/core';
import { type JobCommand, runPrograms, SignalWatch, signalCode } from './job-processes.js';
import { formatMs, type Output, progressLine } from './output.js';

export { type JobCommand, runPrograms, SignalWatch } from './job-processes.js';

/** One volume a job attaches, with the cache paths linked from it. */
export interface JobVolume {
  /** Volume name. */
  name: string;
  /** Volume scope. */
  scope: string;
  /** Requested size, `Ng`; the engine default when omitted. */
  size?: string;
  /** Cache paths as written (relative to the working directory, or absolute). */
  paths: string[];
  /** Commit mode. */
  commit: CommitMode;
  /** Fail when the volume has no usable version (`failOnMiss`), instead of attaching it empty. */
  failOnMiss?: boolean;
  /** Volumes to fork, in order, when this one has nothing usable (`AttachOptions.fallbacks`). */
  fallbacks?: readonly VolumeKey[];
  /**
   * Fail when the volume cannot be attached or a path cannot be linked. By default (`run`) the
   * job goes on with it uncached and one warning: the cache never fails a job.
   */
  strict?: boolean;
  /**
   * A service the job uses with this volume's fork (the container cache's Docker engine):
   * started once the fork is attached, stopped before it is finished. When it cannot start on
   * the fork, the fork is abandoned with one warning and the service starts without it.
   */
  service?: VolumeService;
}

/** A service started for a job on a volume's fork (see {@link JobVolume.service}). */
export interface VolumeService {
  /**
   * Starts the service on the fork, or with no fork (uncached) when `fork` is null.
   *
   * @param fork - the attached fork, or null
   * @returns the environment it gives the job's commands, and how to stop it
   */
  start(fork: ForkHandle | null): Promise<StartedService>;
}

/** A running {@link VolumeService}. */
export interface StartedService {
  /** Variables for the job's commands (`DOCKER_HOST`). */
  env: Record<string, string>;
  /** One line for the log once it is ready. */
  note: string;
  /**
   * Stops it, waiting until it has.
   *
   * @returns whether it stopped cleanly (else its fork is abandoned), and why not
   */
  stop(): Promise<{ clean: boolean; note: string }>;
}

/** Where a job runs and how its paths are resolved and linked. */
export interface JobPlace {
  /** The job's working directory (absolute). */
  workdir: string;
  /** The directory absolute cache paths are relative to (absolute). */
  instanceRoot: string;
  /** Whose path rules apply. */
  os: CacheOs;
  /** Move things in the way aside instead of failing. */
  replace: boolean;
  /** The job label stored with each fork. */
  job: string;
  /**
   * How paths are linked: `auto` (bind mount where permitted, else symlink), `bind`, `symlink`.
   * @defaultValue `"auto"`
   */
  linkMethod?: NonNullable<LinkOptions['method']>;
  /**
   * How long the job's processes have after a signal (SIGTERM, SIGINT, SIGHUP, forwarded to
   * them) before SIGKILL, in milliseconds.
   * @defaultValue 10000
   */
  graceMs?: number;
}

/** What happened to one volume of a job. */
export interface VolumeReport {
  /** The volume. */
  name: string;
  /** Its scope. */
  scope: string;
  /** The fork's id. */
  forkId: string;
  /** `hit`, `stale` or `miss`. */
  result: string;
  /** The version forked, or null on a miss. */
  baseVersionId: string | null;
  /** Attach plus linking time (ms). */
  attachMs: number;
  /** `committed`, `abandoned` or `skipped`. */
  action: FinishOutcome['action'] | 'failed';
  /** The committed version, when committed. */
  versionId: string | null;
  /** Commit (or abandon) time (ms). */
  finishMs: number;
  /** The links made. */
  links: LinkResult[];
  /** What undoing them did at the end (captures of directories that replaced symlinks). */
  unlinked: UnlinkResult[];
}

/** What {@link runJob} did. */
export interface JobReport {
  /** The exit code to pass on. */
  exitCode: number;
  /** The signal that ended the job, if one did. */
  signal: NodeJS.Signals | null;
  /** How long the command(s) ran (ms). */
  commandMs: number;
  /** Per volume. */
  volumes: VolumeReport[];
}

/**
 * Turns each volume's cache paths into link requests (checks every path before anything is
 * attached, so a bad path changes nothing). With `root`, a path at the cache root, above it or
 * inside it is refused: linking there would hide the root (or move it aside with `--replace`).
 *
 * @param volumes - the job's volumes
 * @param place - working directory, instance root, os
 * @param options - `root`: the cache root (`--root`)
 * @throws `INVALID_ARGUMENT` for a path that is not a cache path, or one that overlaps the root
 */
export function planLinks(volumes: readonly JobVolume[], place: JobPlace, options: { root?: string } = {}) {
  return volumes.map((volume) =>
    volume.paths.map((path) => {
      const resolved = resolveCachePath(path, {
        workdir: place.workdir,
        instanceRoot: place.instanceRoot,
        os: place.os,
      });
      if (options.root) refuseOverlap(path, resolved.linkPath, options.root);
      return { ...resolved, within: resolved.kind === 'relative' ? place.workdir : place.instanceRoot };
    }),
  );
}

/** The path with symlinks resolved as far as it exists (what it will be once made). */
function realish(path: string): string {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(at), ...missing.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return resolve(path);
      missing.push(basename(at));
      at = parent;
    }
  }
}

function refuseOverlap(path: string, linkPath: string, root: string): void {
  const link = realish(linkPath);
  const cache = realish(root);
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  if (!inside(link, cache) && !inside(cache, link)) return;
  const where = link === cache ? 'is' : inside(link, cache) ? 'is inside' : 'contains';
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Cache path ${JSON.stringify(path)} (${linkPath}) ${where} the cache root ${root}: a volume cannot hold the root that holds it. Choose another path, or put the root elsewhere (--root or CACHEVOL_ROOT).`,
    { details: { path, linkPath, root } },
  );
}

/** An attached volume: its fork, the links made, and how long it took (ms). */
export interface Attached {
  fork: ForkHandle;
  /** The volume it was attached for. */
  volume?: JobVolume;
  links: LinkResult[];
  attachMs: number;
}

/** Options of {@link attachVolumes}. */
export interface AttachVolumesOptions {
  /**
   * Best effort: a path that cannot be linked is skipped with a warning (the command runs with
   * it uncached) instead of failing the attach.
   * @defaultValue false
   */
  bestEffort?: boolean;
  /**
   * This process ends the forks itself (`run`): when it dies without doing so, the next job on
   * this host takes its links over (see `LinkOptions.heldByProcess`).
   * @defaultValue false
   */
  heldByProcess?: boolean;
}

/**
 * Attaches every volume of a job and links its paths (`ForkHandle.link`); on any failure,
 * abandons what was attached, which undoes the links made.
 *
 * @param engine - the engine
 * @param volumes - the volumes
 * @param place - where the job runs
 * @param out - where to report
 * @param options - best effort
 */
export async function attachVolumes(
  engine: CacheVolumes,
  volumes: readonly JobVolume[],
  place: JobPlace,
  out: Output,
  options: AttachVolumesOptions = {},
): Promise<Attached[]> {
  planLinks(volumes, place); // every path is checked before anything is attached
  const attached: Attached[] = [];
  const progress = progressLine(out.io);
  const stop = engine.on('progress', (p) => progress.update(p.doneBytes, p.totalBytes));
  try {
    for (const volume of volumes) {
      const started = performance.now();
      const fork = await engine.attach(volume.name, {
        scope: volume.scope,
        job: place.job,
        commit: volume.commit,
        ...(volume.size ? { size: volume.size } : {}),
        ...(volume.failOnMiss ? { failOnMiss: true } : {}),
        ...(volume.fallbacks?.length ? { fallbacks: [...volume.fallbacks] } : {}),
      });
      progress.clear();
      const entry: Attached = { fork, volume, links: [] as LinkResult[], attachMs: 0 };
      attached.push(entry);
      if (volume.paths.length > 0) {
        entry.links = await fork.link(volume.paths, {
          workdir: place.workdir,
          instanceRoot: place.instanceRoot,
          os: place.os,
          replace: place.replace,
          method: place.linkMethod ?? 'auto',
          strict: volume.strict || !options.bestEffort,
          heldByProcess: options.heldByProcess ?? false,
        });
      }
      entry.attachMs = performance.now() - started;
      for (const link of entry.links) reportLink(out, link);
    }
    return attached;
  } catch (error) {
    progress.clear();
    for (const { fork } of attached) await fork.abandon().catch(() => undefined);
    throw error;
  } finally {
    stop();
  }
}

function reportLink(out: Output, link: LinkResult): void {
  if (link.action === 'moved-aside') out.warn(`moved ${link.linkPath} aside to ${link.movedTo} (--replace)`);
  if (link.action === 'skipped') out.warn(`${link.linkPath} is not cached this run: ${link.problem}`);
  else if (link.problem) out.warn(`${link.linkPath}: ${link.problem}`);
  for (const part of link.repaired)
    out.warn(
      `the volume held a link or file at ${part}; replaced it by an empty directory (links out of a volume are never followed)`,
    );
}

function reportUnlink(out: Output, link: UnlinkResult): void {
  if (link.action === 'captured')
    out.note(
      `captured ${link.linkPath} into the fork (the tool replaced the link by a directory; ${link.capturedBy})`,
    );
  else if (link.problem) out.warn(link.problem);
}

/**
 * Attaches a job's volumes one by one, best effort: a volume that cannot be attached (a full
 * disk, data that cannot be read, a store or backend error) is left out with one warning, and
 * the job runs with it uncached. A volume with `strict` or `failOnMiss` fails the job instead
 * (after abandoning what was attached), and so does a path linked to another live job's fork:
 * running uncached would write into that job's cache.
 *
 * @param engine - the engine
 * @param volumes - the volumes
 * @param place - where the job runs
 * @param out - where to report
 */
async function attachEach(
  engine: CacheVolumes,
  volumes: readonly JobVolume[],
  place: JobPlace,
  out: Output,
): Promise<Attached[]> {
  const attached: Attached[] = [];
  for (const volume of volumes) {
    try {
      attached.push(
        ...(await attachVolumes(engine, [volume], place, out, { bestEffort: true, heldByProcess: true })),
      );
    } catch (error) {
      if (volume.strict || volume.failOnMiss || isLinkConflict(error)) {
        for (const { fork } of attached) await fork.abandon().catch(() => undefined);
        throw error;
      }
      out.warn(`${volume.scope}/${volume.name}: not cached this run: ${errorMessage(error)}`);
    }
  }
  return attached;
}

function isLinkConflict(error: unknown): boolean {
  return isCacheVolumeError(error, 'CONFLICT') && typeof error.details.path === 'string';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the programs with no cache at all: what `run` falls back to when the cache's state
 * cannot be opened (the cache never fails a job).
 *
 * @param commands - the programs, run in order until one fails
 * @param cwd - their working directory
 * @param out - where to report
 * @param graceMs - how long the processes have after a signal before SIGKILL
 * @param volumes - the job's volumes: their services (the container cache's engine) run uncached
 * @returns the exit code to pass on, and no volumes
 */
export async function runUncached(
  commands: readonly JobCommand[],
  cwd: string,
  out: Output,
  graceMs?: number,
  volumes: readonly JobVolume[] = [],
): Promise<JobReport> {
  const watch = new SignalWatch(graceMs);
  const started = performance.now();
  const services = await startServices(volumes, [], out);
  try {
    const env = Object.assign({}, ...services.map((service) => service.env)) as Record<string, string>;
    const exitCode = await runPrograms(commands, cwd, out, watch, env);
    return { exitCode, signal: watch.received, commandMs: performance.now() - started, volumes: [] };
  } finally {
    await stopServices(services, out);
    watch.close();
  }
}

/**
 * The `run` lifecycle: attach and link every volume, run the program (heartbeating the forks),
 * kill what it left behind in its process group, then finish each fork by its commit mode with
 * the program's exit code. A signal abandons every fork not yet finished (one being committed
 * when it arrives finishes first) and makes the exit code 128+N. Commit failures are warnings:
 * the cache is best-effort and the program's exit code passes through.
 *
 * @param engine - the engine
 * @param volumes - the job's volumes
 * @param place - where the job runs
 * @param commands - the programs, run in order until one fails
 * @param out - where to report
 * @param leaseMs - the lease, to pace heartbeats
 */
export async function runJob(
  engine: CacheVolumes,
  volumes: readonly JobVolume[],
  place: JobPlace,
  commands: readonly JobCommand[],
  out: Output,
  leaseMs = DEFAULT_LEASE_MS,
): Promise<JobReport> {
  const watch = new SignalWatch(place.graceMs);
  try {
    return await runWatched(engine, volumes, place, commands, out, leaseMs, watch);
  } finally {
    watch.close();
  }
}

async function runWatched(
  engine: CacheVolumes,
  volumes: readonly JobVolume[],
  place: JobPlace,
  commands: readonly JobCommand[],
  out: Output,
  leaseMs: number,
  watch: SignalWatch,
): Promise<JobReport> {
  const attached = await attachEach(engine, volumes, place, out);
  for (const { fork, attachMs } of attached) out.note(attachLine(out, fork, attachMs));
  const services = await startServices(volumes, attached, out);
  let warned = false;
  const heartbeat = () => {
    for (const { fork } of attached) {
      fork.heartbeat().catch((error: unknown) => {
        if (!warned)
          out.warn(
            `heartbeat of ${fork.id} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        warned = true;
      });
    }
  };
  const only = attached.length === 1 ? attached[0] : undefined;
  const env: Record<string, string> = {
    ...(only ? { CACHEVOL_FORK_ID: only.fork.id, CACHEVOL_RESULT: only.fork.result } : {}),
    ...Object.assign({}, ...services.map((service) => service.env)),
  };
  const timer = setInterval(heartbeat, Math.max(50, Math.floor(leaseMs / 3)));
  const commandStarted = performance.now();
  const exitCode = await runPrograms(commands, place.workdir, out, watch, env)
    .catch(async (error: unknown) => {
      await stopServices(services, out);
      throw error;
    })
    .finally(() => clearInterval(timer));
  const commandMs = performance.now() - commandStarted;
  const unclean = await stopServices(services, out);

  // A signal from here on never lets cachevol exit 0: the fork being committed when it arrives
  // finishes (a commit is short and crash-safe, and stopping it half-way would leave a fork for
  // reconcile), the forks not yet finished are abandoned, and the exit code is 128+N.
  const reports: VolumeReport[] = [];
  for (const { fork, links, attachMs } of attached) {
    const started = performance.now();
    const signal = watch.received;
    let outcome: FinishOutcome | null = null;
    let unlinked: UnlinkResult[] = [];
    try {
      if (signal || unclean.has(fork)) {
        unlinked = await fork.unlink({ capture: false });
        await fork.abandon();
      } else {
        outcome = await fork.finish(exitCode);
        unlinked = outcome.links ?? [];
      }
    } catch (error) {
      out.warn(
        `${fork.scope}/${fork.name}: could not end fork ${fork.id}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    for (const link of unlinked) reportUnlink(out, link);
    const finishMs = performance.now() - started;
    const dropped = unclean.has(fork);
    const action = signal || dropped ? 'abandoned' : (outcome?.action ?? 'failed');
    const version = outcome?.version?.id ?? null;
    const late = !signal && watch.received ? ` (${watch.received} arrived meanwhile: finished first)` : '';
    const why = signal
      ? ` (${signal})`
      : dropped
        ? ' (its service did not stop cleanly)'
        : action === 'abandoned'
          ? ` (exit code ${exitCode})`
          : late;
    out.note(
      `${fork.scope}/${fork.name}: ${action}${version ? ` as ${version}` : ''}${why} in ${formatMs(finishMs)}`,
    );
    reports.push({
      name: fork.name,
      scope: fork.scope,
      forkId: fork.id,
      result: fork.result,
      baseVersionId: fork.baseVersionId,
      attachMs,
      action,
      versionId: version,
      finishMs,
      links,
      unlinked,
    });
  }
  const signal = watch.received;
  return { exitCode: signal ? signalCode(signal) : exitCode, signal, commandMs, volumes: reports };
}

/** A service that runs for the job, with the fork it uses (null: uncached). */
interface RunningService extends StartedService {
  fork: ForkHandle | null;
  /** `scope/name` of its volume, for messages. */
  label: string;
}

/**
 * Starts the services of a job's volumes (see {@link JobVolume.service}). One that cannot start
 * on its fork gets the fork abandoned (and taken out of `attached`) with a warning, then runs
 * without it; a volume that could not be attached at all gets its service uncached too. A
 * `strict` volume fails the job instead (what was started is stopped, the forks abandoned).
 * A service that cannot start even uncached is a warning: the job runs without it.
 *
 * @param volumes - the job's volumes
 * @param attached - what was attached (changed in place)
 * @param out - where to report
 */
async function startServices(volumes: readonly JobVolume[], attached: Attached[], out: Output) {
  const running: RunningService[] = [];
  for (const volume of volumes) {
    if (!volume.service) continue;
    const label = `${volume.scope}/${volume.name}`;
    const at = attached.findIndex((entry) => entry.volume === volume);
    let fork = at >= 0 ? (attached[at] as Attached).fork : null;
    let started: StartedService | null = null;
    try {
      started = await volume.service.start(fork);
    } catch (error) {
      if (fork) {
        await fork.unlink({ capture: false }).catch(() => undefined);
        await fork.abandon().catch(() => undefined);
        attached.splice(at, 1);
        fork = null;
      }
      if (volume.strict) {
        await stopServices(running, out);
        for (const entry of attached) await entry.fork.abandon().catch(() => undefined);
        throw error;
      }
      out.warn(`${label}: not cached this run: ${errorMessage(error)}`);
      started = await volume.service.start(null).catch((again: unknown) => {
        out.warn(`${label}: the job runs without it: ${errorMessage(again)}`);
        return null;
      });
    }
    if (!started) continue;
    out.note(`${label}: ${started.note}`);
    running.push({ ...started, fork, label });
  }
  return running;
}

/**
 * Stops every running service, waiting for each; returns the forks of those that did not stop
 * cleanly, which must be abandoned rather than committed.
 *
 * @param services - the running services
 * @param out - where to report
 */
async function stopServices(services: readonly RunningService[], out: Output): Promise<Set<ForkHandle>> {
  const unclean = new Set<ForkHandle>();
  for (const service of services) {
    const { label } = service;
    const stopped = await service
      .stop()
      .catch((error: unknown) => ({ clean: false, note: `could not be stopped: ${errorMessage(error)}` }));
    if (stopped.clean) out.note(`${label}: ${stopped.note}`);
    else {
      out.warn(`${label}: ${stopped.note}${service.fork ? '; the fork is abandoned, not committed' : ''}`);
      if (service.fork) unclean.add(service.fork);
    }
  }
  return unclean;
}

/**
 * The line that reports an attach: `scope/name: hit (version v-…), attached in 52ms`, or on a
 * fork of a fallback volume `scope/name: miss, restored from main/deps (version v-…), …`
 * (`stale version` when the fallback gave an older version).
 *
 * @param out - the output (for colours)
 * @param fork - the attached fork
 * @param attachMs - attach plus linking time
 */
export function attachLine(out: Output, fork: ForkHandle, attachMs: number): string {
  const { source } = fork;
  const from = source
    ? `, restored from ${source.scope}/${source.name} (${source.result === 'stale' ? 'stale ' : ''}version ${source.versionId})`
    : fork.baseVersionId
      ? ` (version ${fork.baseVersionId})`
      : '';
  return `${fork.scope}/${fork.name}: ${colorResult(out, fork.result)}${from}, attached in ${formatMs(attachMs)}`;
}

/**
 * Colours an attach result: hit green, stale yellow, miss as is.
 *
 * @param out - the output
 * @param result - `hit`, `stale` or `miss`
 */
export function colorResult(out: Output, result: string): string {
  return result === 'hit'
    ? out.err('green', result)
    : result === 'stale'
      ? out.err('yellow', result)
      : out.err('bold', result);
}
