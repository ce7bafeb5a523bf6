import type { VolumeService } from '../job.js';
import { formatMs } from '../output.js';
import { type ForkEngineOptions, startForkEngine, startUncachedEngine } from './container-cache.js';

/**
 * The container cache as a job service of `cachevol run`: a Docker engine with its data root on
 * the fork (`startForkEngine`), or on a temporary directory when the fork cannot hold it,
 * giving the command `DOCKER_HOST`; stopped (SIGTERM, waiting) before the fork is finished.
 *
 * @param options - the dockerd program and its time limit
 */
export function dockerService(options: ForkEngineOptions): VolumeService {
  return {
    async start(fork) {
      const engine = fork ? await startForkEngine(fork, options) : await startUncachedEngine(options);
      const where = fork ? `data root ${engine.dataRoot}` : 'a temporary data root, uncached';
      return {
        env: { DOCKER_HOST: engine.host },
        note: `Docker engine ready in ${formatMs(engine.readyMs)} (pid ${engine.pid}, ${where}), DOCKER_HOST=${engine.host}`,
        async stop() {
          const stopped = await engine.stop();
          return stopped.clean
            ? { clean: true, note: `Docker engine stopped in ${formatMs(stopped.ms)}` }
            : { clean: false, note: `Docker engine: ${stopped.problem}` };
        },
      };
    },
  };
}
