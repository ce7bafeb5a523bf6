import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';
import { dockerdArgs, MAX_EXEC_ROOT } from './dockerd-args.js';
import { mountsUnder, unmountUnder } from './mounts.js';

/** Options of {@link startDockerEngine}. */
export interface DockerEngineOptions {
  /** The engine's data root (absolute): on a fork to cache images, or a directory of its own. */
  dataRoot: string;
  /**
   * The `dockerd` program: a name looked up on `PATH`, or an absolute path.
   * @defaultValue `"dockerd"`
   */
  dockerd?: string;
  /**
   * How long the daemon may take to answer on its socket (ms).
   * @defaultValue 60000
   */
  readyTimeoutMs?: number;
  /**
   * Where the run-time directory (exec root, socket, pid file, log) is made.
   * @defaultValue the system temp directory
   */
  tempDir?: string;
}

/** How {@link DockerEngine.stop} went. */
export interface DockerEngineStop {
  /** True when the daemon exited by itself after SIGTERM, with status 0, in time. */
  clean: boolean;
  /** How long it took (ms). */
  ms: number;
  /** What went wrong, when not clean. */
  problem: string | null;
}

/** A running Docker engine that one job uses. */
export interface DockerEngine {
  /** The daemon's process id. */
  readonly pid: number;
  /** `DOCKER_HOST` for the job: `unix://<socket>`. */
  readonly host: string;
  /** Its data root. */
  readonly dataRoot: string;
  /** Its log (stdout and stderr), in the run-time directory (removed by `stop`). */
  readonly logFile: string;
  /** How long it took to answer (ms). */
  readonly readyMs: number;
  /**
   * Stops the daemon: SIGTERM to its pid, then waits for it to exit (SIGKILL after `timeoutMs`),
   * unmounts whatever it left mounted under its data root and run-time directory, and removes
   * the run-time directory. Safe to call more than once.
   *
   * @param timeoutMs - how long the daemon has to exit after SIGTERM (default 60000)
   */
  stop(timeoutMs?: number): Promise<DockerEngineStop>;
}

const DEFAULT_READY_MS = 60_000;
const DEFAULT_STOP_MS = 60_000;
const LOG_TAIL_LINES = 5;

/** True when the daemon's socket answers `GET /_ping` with 200. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const lines = text.trim().split('\n').filter(Boolean).slice(-LOG_TAIL_LINES);
  return lines.length > 0 ? ` Its log ends: ${lines.join(' | ')}` : '';
}

/** Sends a signal to the daemon by its pid; one that has just exited is no error. */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(child.pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Checks the `dockerd` program given: a name looked up on `PATH`, or an absolute path.
 *
 * @param dockerd - the program
 * @throws `INVALID_ARGUMENT` otherwise (an empty value, a relative path, a leading `-`)
 */
export function checkDockerd(dockerd: string): void {
  if (dockerd === '' || dockerd.startsWith('-') || (dockerd.includes('/') && !isAbsolute(dockerd))) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid dockerd program ${JSON.stringify(dockerd)}: give a name found on PATH or an absolute path.`,
      { details: { dockerd } },
    );
  }
}

/**
 * Makes the run-time directory under `base`, or under `/tmp` when the exec root in it would be
 * too long for containerd's sockets (see `MAX_EXEC_ROOT`).
 *
 * @param base - the temp directory
 */
async function makeRunDir(base: string): Promise<string> {
  const prefix = 'cachevol-docker-';
  // mkdtemp adds six characters; the exec root is `<dir>/x`.
  if (Buffer.byteLength(join(base, `${prefix}XXXXXX`, 'x')) > MAX_EXEC_ROOT && process.platform !== 'win32')
    return mkdtemp(join('/tmp', prefix));
  return mkdtemp(join(base, prefix));
}

/**
 * Starts a Docker engine (`dockerd`) of the job's own, with the data root given and everything
 * else in a fresh run-time directory (`cachevol-docker-*` under the temp directory): the exec
 * root, the pid file, a configuration file of its own and the socket (under `/tmp` instead
 * when the temp directory's path is too long for containerd's sockets). `overlay2` is forced and
 * no host networking is set up (see `dockerdArgs`). The daemon runs in a session of its own,
 * so a terminal's Ctrl-C reaches the job and not the daemon; cachevol stops it. Resolves once
 * the socket answers `GET /_ping`.
 *
 * @param options - data root, program, time limit
 * @returns the running engine
 * @throws `BACKEND_UNAVAILABLE` when `dockerd` is not installed, exits, or does not answer in
 *   time (with the end of its log); nothing is left running
 *
 * @example
 * ```ts
 * const engine = await startDockerEngine({ dataRoot: '/var/lib/job-docker' })
 * // run `docker` with DOCKER_HOST=engine.host, then:
 * await engine.stop()
 * ```
 */
export async function startDockerEngine(options: DockerEngineOptions): Promise<DockerEngine> {
  const dockerd = options.dockerd ?? 'dockerd';
  checkDockerd(dockerd);
  const runDir = await makeRunDir(options.tempDir ?? tmpdir());
  const paths = {
    dataRoot: options.dataRoot,
    execRoot: join(runDir, 'x'),
    pidFile: join(runDir, 'dockerd.pid'),
    socket: join(runDir, 'docker.sock'),
    configFile: join(runDir, 'daemon.json'),
  };
  const logFile = join(runDir, 'dockerd.log');
  const removeRunDir = async () => {
    await unmountUnder(runDir);
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  };
  let args: string[];
  try {
    args = dockerdArgs(paths);
    await mkdir(paths.dataRoot, { recursive: true });
    await writeFile(paths.configFile, '{}\n');
  } catch (error) {
    await removeRunDir();
    throw error;
  }
  // What was mounted at or under the data root before the daemon (the caller's own mounts) is
  // never unmounted; only what the daemon leaves behind is.
  const before = new Set(await mountsUnder(paths.dataRoot));
  const unmountLeftovers = () => unmountUnder(paths.dataRoot, (point) => !before.has(point));
  const log = openSync(logFile, 'a');
  const started = performance.now();
  const child = spawn(dockerd, args, { detached: true, stdio: ['ignore', log, log], shell: false });
  closeSync(log);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const ended = exited(child);

  let stopping: Promise<DockerEngineStop> | null = null;
  const stop = (timeoutMs = DEFAULT_STOP_MS): Promise<DockerEngineStop> => {
    stopping ??= (async () => {
      const begun = performance.now();
      let problem: string | null = null;
      if (child.exitCode !== null || child.signalCode !== null) {
        problem = `dockerd had already exited (${child.exitCode ?? child.signalCode}) before the job ended`;
      } else {
        signal(child, 'SIGTERM');
        const timer = new Promise<'late'>((resolve) => setTimeout(resolve, timeoutMs, 'late').unref());
        const how = await Promise.race([ended, timer]);
        if (how === 'late') {
          problem = `dockerd did not exit within ${Math.round(timeoutMs / 1000)} s of SIGTERM and was killed`;
          signal(child, 'SIGKILL');
          await ended;
        } else if (how.code !== 0) {
          problem = `dockerd exited with ${how.code ?? how.signal} after SIGTERM`;
        }
      }
      if (problem) problem += `.${await logTail(logFile)}`;
      // A daemon that was killed can leave its containers' mounts behind.
      await unmountLeftovers();
      await removeRunDir();
      return { clean: problem === null, ms: performance.now() - begun, problem };
    })();
    return stopping;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_MS);
  for (;;) {
    const failure = await Promise.race([
      spawnError.then((error) =>
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${dockerd} was not found: install Docker (Debian: \`apt-get install docker.io\`)`
          : `${dockerd} could not be started: ${error.message}`,
      ),
      ended.then(({ code, signal }) => `${dockerd} exited (${code ?? signal}) before it answered`),
      ping(paths.socket).then((ok) => (ok ? null : undefined)),
    ]);
    if (failure === null) break;
    const late = failure === undefined && Date.now() > deadline;
    if (failure !== undefined || late) {
      const tail = await logTail(logFile);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) await stop(10_000);
      await unmountLeftovers();
      await removeRunDir();
      throw new CacheVolumeError(
        'BACKEND_UNAVAILABLE',
        `The Docker engine did not start: ${failure ?? `${dockerd} did not answer on ${paths.socket} in time`}.${tail}`,
        { details: { dockerd, dataRoot: paths.dataRoot } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    pid: child.pid as number,
    host: `unix://${paths.socket}`,
    dataRoot: paths.dataRoot,
    logFile,
    readyMs: performance.now() - started,
    stop,
  };
}
