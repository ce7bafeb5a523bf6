import { isAbsolute } from 'node:path';
import { CacheVolumeError } from '@cachevol/core';

/** Where one job's `dockerd` keeps its files (every path absolute). */
export interface DockerdPaths {
  /** `--data-root`: images, layers, containers, build cache (on the fork, to be cached). */
  dataRoot: string;
  /** `--exec-root`: the daemon's and containerd's run-time state (never cached). */
  execRoot: string;
  /** `--pidfile`. */
  pidFile: string;
  /** The unix socket the daemon listens on (`--host unix://…`). */
  socket: string;
  /** `--config-file`: a file of its own, so that `/etc/docker/daemon.json` is not read. */
  configFile: string;
}

/** The longest socket path a unix socket address can hold (Linux's `sun_path` less its NUL). */
export const MAX_SOCKET_PATH = 107;

/**
 * The longest exec root that works: dockerd's containerd makes its sockets in it
 * (`containerd/containerd.sock.ttrpc`, `containerd/containerd-debug.sock`), and fails to start
 * ("timeout waiting for containerd to start") once those pass about 100 bytes (measured with
 * containerd 1.6: 100 works, 106 does not).
 */
export const MAX_EXEC_ROOT = 100 - '/containerd/containerd.sock.ttrpc'.length;

function checkPath(path: string, what: string): void {
  // Absolute paths never start with `-`, so none is read as an option.
  if (typeof path !== 'string' || !isAbsolute(path) || /[\0\n,]/.test(path)) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid ${what} ${JSON.stringify(path)}: it must be an absolute path without commas or newlines.`,
      { details: { [what]: path } },
    );
  }
}

/**
 * The command line of a job's own Docker engine: its data root, exec root, pid file, socket
 * and configuration file given, `overlay2` forced (Docker's `btrfs` driver keeps layers as
 * nested subvolumes, which a snapshot leaves empty), and no networking set up on the host (no
 * bridge, no iptables rules), so that it touches nothing outside its directories. Containers
 * then run with `--network none` (or `host`).
 *
 * @param paths - where the daemon keeps its files
 * @returns the arguments of `dockerd`
 * @throws `INVALID_ARGUMENT` for a path that is not absolute, or a socket path or exec root too
 *   long
 */
export function dockerdArgs(paths: DockerdPaths): string[] {
  checkPath(paths.dataRoot, 'data root');
  checkPath(paths.execRoot, 'exec root');
  checkPath(paths.pidFile, 'pid file');
  checkPath(paths.socket, 'socket');
  checkPath(paths.configFile, 'config file');
  if (Buffer.byteLength(paths.execRoot) > MAX_EXEC_ROOT) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `The exec root ${paths.execRoot} is longer than ${MAX_EXEC_ROOT} bytes: containerd could not make its sockets in it. Set TMPDIR to a shorter directory.`,
      { details: { execRoot: paths.execRoot } },
    );
  }
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `The socket path ${paths.socket} is longer than ${MAX_SOCKET_PATH} bytes, which a unix socket cannot use; set TMPDIR to a shorter directory.`,
      { details: { socket: paths.socket } },
    );
  }
  return [
    '--data-root',
    paths.dataRoot,
    '--exec-root',
    paths.execRoot,
    '--pidfile',
    paths.pidFile,
    '--host',
    `unix://${paths.socket}`,
    '--config-file',
    paths.configFile,
    '--storage-driver',
    'overlay2',
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
    '--ip6tables=false',
  ];
}
