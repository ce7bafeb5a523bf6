import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import {
  type AttachOptions,
  CacheVolumeError,
  type CacheVolumes,
  containerCacheVolumeName,
  type FinishOutcome,
  type ForkHandle,
} from '@cachevol/core';
import { type DockerEngine, type DockerEngineStop, startDockerEngine } from './docker-engine.js';
import { checkOverlayFit } from './overlay-check.js';

/** The directory of a container cache volume that is the Docker engine's data root. */
export const DOCKER_DATA_DIR = 'docker';

/** Options of {@link startForkEngine} and {@link startUncachedEngine}. */
export interface ForkEngineOptions {
  /**
   * The `dockerd` program: a name looked up on `PATH`, or an absolute path.
   * @defaultValue `"dockerd"`
   */
  dockerd?: string;
  /**
   * How long the daemon may take to answer (ms).
   * @defaultValue 60000
   */
  readyTimeoutMs?: number;
}

/**
 * Why a container engine cannot keep its data on this host at all (not Linux, not root), or
 * `null`. Docker's overlay2 needs Linux and root; rootless Docker is not supported.
 */
export function containerCacheUnsupported(): string | null {
  if (process.platform !== 'linux') return 'the container cache needs Linux (Docker with overlay2)';
  if (process.getuid?.() !== 0)
    return 'the container cache needs root (dockerd and overlay mounts); rootless Docker is not supported';
  return null;
}

/**
 * Starts a Docker engine whose data root is the fork's `docker/` directory, after checking that
 * overlay2's layers can live on the fork and that the copy the fork came from kept them
 * (`checkOverlayFit`: whiteouts and `trusted.overlay.*` attributes).
 *
 * @param fork - an attached fork of a container cache volume
 * @param options - program and time limit
 * @throws `BACKEND_UNAVAILABLE` with the reason: not Linux or not root, a fork with no
 *   directory, a filesystem overlay2 cannot use (FUSE: zfs-fuse), a copy that lost device files
 *   or extended attributes, a daemon that did not start
 */
export async function startForkEngine(
  fork: ForkHandle,
  options: ForkEngineOptions = {},
): Promise<DockerEngine> {
  const unsupported = containerCacheUnsupported();
  if (unsupported) throw new CacheVolumeError('BACKEND_UNAVAILABLE', `Not cached: ${unsupported}.`);
  if (!isAbsolute(fork.mountPath))
    throw new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `The fork ${fork.id} has no directory (${JSON.stringify(fork.mountPath)}) that a Docker engine could use.`,
      { details: { forkId: fork.id } },
    );
  const scratch = await mkdtemp(join(tmpdir(), 'cachevol-overlay-'));
  try {
    await checkOverlayFit(fork.mountPath, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
  return startDockerEngine({ ...options, dataRoot: join(fork.mountPath, DOCKER_DATA_DIR) });
}

/**
 * Starts a Docker engine with a data root of its own (a temporary directory, removed when it
 * stops): what a job gets when its container cache cannot be used, so it still has an engine.
 *
 * @param options - program and time limit
 */
export async function startUncachedEngine(options: ForkEngineOptions = {}): Promise<DockerEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'cachevol-docker-data-'));
  let engine: DockerEngine;
  try {
    engine = await startDockerEngine({ ...options, dataRoot: dir });
  } catch (error) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
  return {
    ...engine,
    async stop(timeoutMs) {
      const stopped = await engine.stop(timeoutMs);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      return stopped;
    },
  };
}

/** Options of {@link attachContainerCache}. */
export interface ContainerCacheOptions extends ForkEngineOptions {
  /** The pipeline's slug: the volume is `<slug>/container-cache`. */
  pipelineSlug: string;
  /** Attach options (scope, job, size, commit mode, fallbacks…) of the volume. */
  attach?: AttachOptions;
  /**
   * Fail instead of running uncached when the cache cannot be used.
   * @defaultValue false
   */
  strict?: boolean;
}

/** A job's container engine, with its data root on the pipeline's container cache volume. */
export interface ContainerCache {
  /** The fork holding the data root, or `null` when the engine runs uncached. */
  readonly fork: ForkHandle | null;
  /** Why the cache is not used (the engine then has a temporary data root), or `null`. */
  readonly problem: string | null;
  /** The running engine. */
  readonly engine: DockerEngine;
  /** The environment for the job's commands: `{ DOCKER_HOST: 'unix://…' }`. */
  readonly env: { DOCKER_HOST: string };
  /**
   * Ends the job: stops the engine (SIGTERM, waiting for it to exit), then finishes the fork
   * with the job's exit code by its commit mode. A daemon that did not stop cleanly has its
   * fork abandoned, never committed.
   *
   * @param exitCode - the job's exit code
   * @returns the fork's outcome (`null` without a fork) and how the engine stopped
   */
  finish(exitCode: number): Promise<{ outcome: FinishOutcome | null; stop: DockerEngineStop }>;
  /** Stops the engine and abandons the fork (a cancelled job). */
  abandon(): Promise<DockerEngineStop>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Attaches a pipeline's container cache volume (`<slug>/container-cache`) and starts a Docker
 * engine for the job with its data root on the fork, so images, layers and the build cache of
 * one job are there for the next. The cache never fails the job: when the volume cannot be
 * attached or overlay2 cannot be used on it (see `startForkEngine`), the fork is abandoned and
 * the engine gets a temporary data root (`problem` says why), unless `strict`. Needs Linux,
 * root and Debian's `docker.io` (dockerd).
 *
 * @param volumes - the engine
 * @param options - pipeline slug, attach options, dockerd program
 * @returns the running engine and its fork; call `finish(exitCode)` when the job ends
 * @throws `BACKEND_UNAVAILABLE` when no engine can be started at all (dockerd missing), or
 *   with `strict` any cache trouble; `INVALID_ARGUMENT` for a bad slug
 *
 * @example
 * ```ts
 * const cache = await attachContainerCache(volumes, { pipelineSlug: 'web', attach: { scope: 'web' } })
 * const code = await runMyJob({ env: { ...process.env, ...cache.env } })
 * await cache.finish(code)
 * ```
 */
export async function attachContainerCache(
  volumes: CacheVolumes,
  options: ContainerCacheOptions,
): Promise<ContainerCache> {
  const name = containerCacheVolumeName(options.pipelineSlug);
  const engineOptions: ForkEngineOptions = {
    ...(options.dockerd ? { dockerd: options.dockerd } : {}),
    ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  };
  let fork: ForkHandle | null = null;
  let engine: DockerEngine | null = null;
  let problem: string | null = null;
  try {
    fork = await volumes.attach(name, options.attach ?? {});
    engine = await startForkEngine(fork, engineOptions);
  } catch (error) {
    if (fork) await fork.abandon().catch(() => undefined);
    if (options.strict || (isInvalid(error) && !fork)) throw error;
    fork = null;
    problem = message(error);
  }
  engine ??= await startUncachedEngine(engineOptions);
  const running = engine;
  const held = fork;
  return {
    fork: held,
    problem,
    engine: running,
    env: { DOCKER_HOST: running.host },
    async finish(exitCode) {
      const stop = await running.stop();
      if (!held) return { outcome: null, stop };
      if (!stop.clean) {
        await held.abandon();
        return { outcome: { action: 'abandoned', version: null }, stop };
      }
      return { outcome: await held.finish(exitCode), stop };
    },
    async abandon() {
      const stop = await running.stop();
      if (held) await held.abandon();
      return stop;
    },
  };
}

function isInvalid(error: unknown): boolean {
  return error instanceof CacheVolumeError && error.code === 'INVALID_ARGUMENT';
}
