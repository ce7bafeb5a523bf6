/**
 * `@cachevol/cli`: the `cachevol` command (attach, run and commit CI cache volumes from runner
 * images and local pipeline runs), and the pieces it is built from for embedding: `main`, and
 * the container cache (a job's own Docker engine with its data root on the pipeline's
 * container cache volume), which runs processes and so is not in `@cachevol/core`.
 *
 * @packageDocumentation
 */

export {
  attachContainerCache,
  type ContainerCache,
  type ContainerCacheOptions,
  containerCacheUnsupported,
  DOCKER_DATA_DIR,
  type ForkEngineOptions,
  startForkEngine,
  startUncachedEngine,
} from './internal/container/container-cache.js';
export {
  checkDockerd,
  type DockerEngine,
  type DockerEngineOptions,
  type DockerEngineStop,
  startDockerEngine,
} from './internal/container/docker-engine.js';
export { type DockerdPaths, dockerdArgs, MAX_SOCKET_PATH } from './internal/container/dockerd-args.js';
export { checkOverlayFit, OVERLAY_CHECK_DIR } from './internal/container/overlay-check.js';
export type { CliIo, TextSink } from './internal/output.js';
export { EXIT_CODES, type MainIo, main } from './main.js';
