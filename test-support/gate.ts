/**
 * The one availability gate of the real-system tests (btrfs, ZFS, mounts as root, PostgreSQL,
 * network namespaces).
 * It checks what a test will use, running: the kernel and the service (a zfs-fuse daemon or the
 * OpenZFS module that answers `zpool list`, a kernel that knows btrfs, loop devices, the
 * privilege to mount, a PostgreSQL server at `CACHEVOL_TEST_POSTGRES_URL` that answers a query),
 * not only that a tool is installed.
 *
 * When a gate says no, a suite is skipped with its reason, which the `skip-reasons` reporter
 * prints as one line; under `CI=true` it fails instead, with the same reason. A skipped suite
 * runs none of its hooks, so it makes nothing (no image, no pool, no loop device).
 *
 * Test files import this relatively; it is part of no published package.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { describeIfAvailable, itIfAvailable } from '@cachevol/core/testing';
import type { TestFunction } from 'vitest';

/** What a real-system test can need. */
export type Requirement =
  /** root with the privilege to mount (CAP_SYS_ADMIN), on Linux */
  | 'root'
  /** root, btrfs-progs, util-linux, a kernel with btrfs and loop devices */
  | 'btrfs'
  /** root and a running ZFS: `zpool list` and `zfs list` answer */
  | 'zfs'
  /**
   * A PostgreSQL database: the one at `CACHEVOL_TEST_POSTGRES_URL`, which must answer a query,
   * or, without that variable, what `postgres-cluster` needs
   */
  | 'postgres'
  /**
   * What a suite needs to start a throwaway PostgreSQL cluster of its own: the server binaries
   * (`/usr/lib/postgresql/<version>/bin`) that run, and a `postgres` user when run as root
   */
  | 'postgres-cluster'
  /** git with its `git daemon` (the git mirror tests serve a repository on 127.0.0.1) */
  | 'git-daemon'
  /**
   * root with the privilege to make network namespaces (`ip netns`), bridges and veth pairs:
   * what `test-support/fleet-net.ts` builds hosts from
   */
  | 'netns';

/** What the probes look at; the real machine unless a test gives another. */
export interface System {
  platform: NodeJS.Platform;
  uid: number | undefined;
  env: NodeJS.ProcessEnv;
  /** The contents of a file, or `undefined` when it cannot be read. */
  read(path: string): string | undefined;
  exists(path: string): boolean;
  /** The names in a directory, or none when it cannot be read. */
  list(path: string): string[];
  /** Whether `path` is a file this process may execute. */
  executable(path: string): boolean;
  /** Runs a program (no shell) and reports how it ended. */
  run(program: string, args: string[]): { status: number | null; stderr: string; error?: string };
}

const PROBE_TIMEOUT_MS = 30_000;

/** The machine these tests run on. */
export const thisSystem: System = {
  platform: process.platform,
  uid: process.getuid?.(),
  env: process.env,
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  exists: existsSync,
  list(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  executable(path) {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  run(program, args) {
    const result = spawnSync(program, args, {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
      timeout: PROBE_TIMEOUT_MS,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    return {
      status: result.status,
      stderr: result.stderr ?? '',
      ...(result.error
        ? { error: code === 'ETIMEDOUT' ? `no answer in ${PROBE_TIMEOUT_MS / 1000} s` : String(code) }
        : {}),
    };
  },
};

const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** Why `tool` cannot be run by name, or `undefined`. The tests run tools through `PATH`. */
function missingTool(system: System, tool: string, install: string): string | undefined {
  const dirs = (system.env.PATH ?? '').split(delimiter).filter(Boolean);
  if (dirs.some((dir) => system.executable(join(dir, tool)))) return undefined;
  const elsewhere = SBIN.find((dir) => !dirs.includes(dir) && system.executable(join(dir, tool)));
  if (elsewhere) return `${tool} is in ${elsewhere}, which is not on PATH: add it to PATH`;
  return `${tool} not found: install ${install}`;
}

/**
 * Why one of `programs` cannot be run by name, or `undefined` when all can: for suites that run
 * tools other than the ones a {@link Requirement} covers (gcc, ccache, npm).
 *
 * @param programs - the programs, run through `PATH`
 * @param install - what to install to get them, for the message
 * @param system - the machine to look at
 */
export function missingPrograms(
  programs: readonly string[],
  install: string,
  system: System = thisSystem,
): string | undefined {
  for (const program of programs) {
    const missing = missingTool(system, program, install);
    if (missing) return missing;
  }
  return undefined;
}

/** CAP_SYS_ADMIN (bit 21) in the effective capabilities of this process. */
function canMount(system: System): boolean {
  const line = /^CapEff:\s*([0-9a-f]+)/m.exec(system.read('/proc/self/status') ?? '')?.[1];
  if (line === undefined) return true; // no /proc/self/status to ask: let mount answer
  return (BigInt(`0x${line}`) & (1n << 21n)) !== 0n;
}

function rootProblem(system: System): string | undefined {
  if (system.platform !== 'linux') return `needs Linux, this is ${system.platform}`;
  if (system.uid !== 0) return 'needs root (mount, losetup, pools)';
  if (!canMount(system)) return 'needs the privilege to mount (CAP_SYS_ADMIN): run the container privileged';
  return undefined;
}

function btrfsProblem(system: System): string | undefined {
  const root = rootProblem(system);
  if (root) return root;
  for (const tool of ['btrfs', 'mkfs.btrfs']) {
    const missing = missingTool(system, tool, 'btrfs-progs');
    if (missing) return missing;
  }
  for (const tool of ['losetup', 'mount', 'umount']) {
    const missing = missingTool(system, tool, 'mount (util-linux)');
    if (missing) return missing;
  }
  const known = /\sbtrfs$/m.test(system.read('/proc/filesystems') ?? '');
  if (
    !known &&
    !system.exists('/sys/module/btrfs') &&
    system.run('modprobe', ['-n', '-q', 'btrfs']).status !== 0
  )
    return 'the kernel has no btrfs (not in /proc/filesystems, no module to load): use a kernel with btrfs';
  if (!system.exists('/dev/loop-control') && !system.exists('/dev/loop0'))
    return 'no loop devices (/dev/loop-control is missing): modprobe loop, or give the container /dev/loop*';
  return undefined;
}

function zfsProblem(system: System): string | undefined {
  const root = rootProblem(system);
  if (root) return root;
  for (const tool of ['zpool', 'zfs']) {
    const missing = missingTool(system, tool, 'zfs-fuse (then start `zfs-fuse`) or zfsutils-linux');
    if (missing) return missing;
  }
  // Installed is not enough: the daemon (zfs-fuse) or the kernel module must answer.
  for (const program of ['zpool', 'zfs']) {
    const probe = system.run(program, ['list', '-H', '-o', 'name']);
    if (probe.status !== 0)
      return `ZFS is not running (\`${program} list\` said: ${said(probe)}): start \`zfs-fuse\` or \`modprobe zfs\``;
  }
  return undefined;
}

/**
 * Where PostgreSQL's server binaries are (Debian's layout, `/usr/lib/postgresql/<version>/bin`
 * with `initdb` and `pg_ctl`, the newest version first), or `undefined`.
 *
 * @param system - the machine to look at
 */
export function postgresBinDir(system: System = thisSystem): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = system
    .list(root)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return versions
    .map((version) => join(root, version, 'bin'))
    .find((bin) => system.executable(join(bin, 'initdb')) && system.executable(join(bin, 'pg_ctl')));
}

/** What a failed probe said (its stderr on one line, or why it did not run), or its exit status. */
function said(probe: ReturnType<System['run']>): string {
  const text = (probe.error ?? probe.stderr).trim().split('\n').filter(Boolean).join(' ');
  return text || `exit ${probe.status}`;
}

function clusterProblem(system: System): string | undefined {
  if (system.platform === 'win32') return 'a throwaway PostgreSQL cluster needs a Unix system';
  const bin = postgresBinDir(system);
  if (!bin)
    return 'PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): install postgresql';
  if (system.uid === 0 && !/^postgres:/m.test(system.read('/etc/passwd') ?? ''))
    return 'running as root, and there is no postgres user to run the server as: create one (useradd postgres)';
  const version = system.run(join(bin, 'postgres'), ['--version']);
  if (version.status !== 0) return `${join(bin, 'postgres')} does not run (${said(version)})`;
  return undefined;
}

/** Connects with `pg` (the store's driver) in a child process and runs `SELECT 1`. */
const PG_PROBE = `
const pg = require(process.argv[1]);
const client = new pg.Client({ connectionString: process.argv[2], connectionTimeoutMillis: 20000 });
client.on('error', () => {});
client.connect().then(() => client.query('SELECT 1')).then(() => client.end()).then(
  () => process.exit(0),
  (error) => { process.stderr.write(String(error && error.message || error)); process.exit(1); },
);`;

function postgresProblem(system: System): string | undefined {
  const url = system.env.CACHEVOL_TEST_POSTGRES_URL;
  if (!url) {
    const cluster = clusterProblem(system);
    return cluster && `${cluster}; or set CACHEVOL_TEST_POSTGRES_URL to a database the tests may use`;
  }
  let driver: string;
  try {
    driver = createRequire(new URL('../packages/store-postgres/package.json', import.meta.url)).resolve('pg');
  } catch {
    return 'the pg module is not installed: run npm install';
  }
  const probe = system.run(process.execPath, ['-e', PG_PROBE, driver, url]);
  if (probe.status === 0) return undefined;
  return `PostgreSQL at CACHEVOL_TEST_POSTGRES_URL does not answer (${said(probe)}): start it (\`source .ci/postgres.sh; postgres_setup\`), or unset the variable to let the tests start their own cluster`;
}

function gitDaemonProblem(system: System): string | undefined {
  const missing = missingTool(system, 'git', 'git (apt-get install git)');
  if (missing) return missing;
  // An unknown flag: git daemon answers with its usage; a git without it says it has no such command.
  const probe = system.run('git', ['daemon', '--cachevol-probe']);
  if (/usage: git daemon/.test(probe.stderr)) return undefined;
  return `git has no \`git daemon\` (${said(probe)}): install git's daemon (apt-get install git)`;
}

function netnsProblem(system: System): string | undefined {
  if (system.platform !== 'linux') return `needs Linux, this is ${system.platform}`;
  if (system.uid !== 0) return 'needs root (ip netns add, veth pairs)';
  const ip = missingTool(system, 'ip', 'iproute2');
  if (ip) return ip;
  const unshare = missingTool(system, 'unshare', 'util-linux');
  if (unshare) return unshare;
  const list = system.run('ip', ['netns', 'list']);
  if (list.status !== 0)
    return `\`ip netns list\` fails (${said(list)}): install iproute2 with netns support`;
  // Each in a network namespace of its own that ends with the probe: nothing is left behind.
  for (const [what, args] of [
    ['a bridge', ['link', 'add', 'cvnprobe0', 'type', 'bridge']],
    ['a veth pair', ['link', 'add', 'cvnprobe0', 'type', 'veth', 'peer', 'name', 'cvnprobe1']],
  ] as const) {
    const made = system.run('unshare', ['--net', '--', 'ip', ...args]);
    if (made.status !== 0)
      return `cannot make ${what} in a new network namespace (${said(made)}): run as root with CAP_NET_ADMIN and CAP_SYS_ADMIN (a privileged container)`;
  }
  return undefined;
}

const PROBES: Record<Requirement, (system: System) => string | undefined> = {
  root: rootProblem,
  btrfs: btrfsProblem,
  zfs: zfsProblem,
  postgres: postgresProblem,
  'postgres-cluster': clusterProblem,
  'git-daemon': gitDaemonProblem,
  netns: netnsProblem,
};

/**
 * Why `requirement` cannot be met on `system`, or `undefined` when it can.
 *
 * @param requirement - what the test needs
 * @param system - the machine to look at
 */
export function probe(requirement: Requirement, system: System = thisSystem): string | undefined {
  return PROBES[requirement](system);
}

const answers = new Map<Requirement, string | undefined>();

/**
 * Why the requirements cannot be met on this machine (the first that cannot), or `undefined`.
 * Each requirement is probed once per test file.
 *
 * @param requirements - what the test needs
 */
export function unavailable(requirements: Requirement | readonly Requirement[]): string | undefined {
  for (const requirement of typeof requirements === 'string' ? [requirements] : requirements) {
    if (!answers.has(requirement)) answers.set(requirement, probe(requirement));
    const reason = answers.get(requirement);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/**
 * What a gate does with a reason (core's `decideAvailability`): run, skip, or fail under
 * `CI=true`.
 */
export { decideAvailability as decide, type GateDecision } from '@cachevol/core/testing';

/** Options of {@link describeWith} and {@link itWith}. */
export interface GateOptions {
  /** Why the tests cannot run, instead of probing this machine (for tests of the gate). */
  reason?: string | undefined;
}

/**
 * A `describe` for tests on a real system: runs `body` when `requirements` are met; otherwise
 * skips it with the reason (outside CI) or fails with it (under `CI=true`).
 *
 * @param requirements - what the suite needs
 * @param title - the suite's title
 * @param body - the suite
 * @param options - a given reason instead of probing
 *
 * @example
 * ```ts
 * describeWith('zfs', 'zfs backend on a real pool', () => { const pool = useTestPool(); ... })
 * ```
 */
export function describeWith(
  requirements: Requirement | readonly Requirement[],
  title: string,
  body: () => void,
  options: GateOptions = {},
): void {
  // The gate of @cachevol/core/testing: skip with the reason, or fail under CI=true.
  describeIfAvailable('reason' in options ? options.reason : () => unavailable(requirements), title, body);
}

/**
 * An `it` for one test on a real system, gated like {@link describeWith}.
 *
 * @param requirements - what the test needs
 * @param title - the test's title
 * @param fn - the test
 * @param timeout - its timeout in ms
 */
export function itWith(
  requirements: Requirement | readonly Requirement[],
  title: string,
  fn: TestFunction,
  timeout?: number,
): void {
  // The gate of @cachevol/core/testing: skip with the reason, or fail under CI=true.
  itIfAvailable(() => unavailable(requirements), title, fn, { timeout });
}
