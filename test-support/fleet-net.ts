/**
 * Hosts as network namespaces, for tests that run several `cachevol` hosts on one machine.
 *
 * `createFleetNet({ prefix: 'cvn-x', hosts: ['a', 'b'] })` makes a hub namespace `cvn-x-hub`
 * holding a bridge, and one namespace per host (`cvn-x-a`, `cvn-x-b`), each joined to the
 * bridge by a veth pair whose host end is `eth0`, with an address in `10.231.<N>.0/24` and its
 * loopback up. Both ends of every veth are made directly in their namespaces, and the bridge
 * lives in the hub: nothing is added to the root namespace, and the root namespace's firewall
 * (Docker's `FORWARD` policy `DROP`, `br_netfilter`) never sees the hosts' traffic. The hosts
 * have no default route: an address outside the fleet is unreachable from them at once.
 *
 * A downed veth (`linkDown`) is silent, as a partition is: a client sees no error, only no
 * answer, so clients in tests need timeouts.
 *
 * PostgreSQL: a cluster that listens on a unix socket (`.ci/postgres.sh`, the store tests'
 * clusters) is reachable from every namespace, since a socket is a file;
 * {@link postgresUrlForNamespaces} gives that connection string.
 *
 * Test files import this relatively; it is part of no published package. Gate suites with
 * `describeWith('netns', …)` (root, `ip netns`, bridges and veths).
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Exited, run } from './run.js';
import { waitFor } from './wait.js';

/** Options of {@link createFleetNet}. */
export interface FleetNetOptions {
  /**
   * The namespaces' name prefix: `cvn`, then letters, digits and single hyphens, at most 20
   * characters (`cvn-fleet`). One prefix is one fleet: set-up first removes what a killed run
   * of the same prefix left, and refuses while another live process holds the prefix.
   */
  prefix: string;
  /** The hosts' names: a lower-case letter, then letters or digits, at most 10; not `hub`. */
  hosts: readonly string[];
}

/** One host of the fleet. */
export interface FleetHost {
  /** Its name, as given. */
  readonly name: string;
  /** Its network namespace, `<prefix>-<name>`, for `ip netns exec`. */
  readonly ns: string;
  /** Its address on the fleet's network (`10.231.<N>.<11 + index>`). */
  readonly address: string;
  /** Its interface on the fleet's network, inside its namespace: `eth0`. */
  readonly interface: string;
  /** The other end of its veth, on the hub's bridge (what {@link FleetNet.linkDown} downs). */
  readonly hubVeth: string;
}

/** Options of {@link FleetNet.run}. */
export interface FleetRunOptions {
  /** The environment. @defaultValue this process's, with `LC_ALL=C` */
  env?: NodeJS.ProcessEnv;
  /** The working directory. */
  cwd?: string;
  /** Kill the process (SIGKILL) after this long; it then resolves with `code: null`. */
  timeoutMs?: number;
}

/** A fleet of hosts as network namespaces; see {@link createFleetNet}. */
export interface FleetNet {
  /** The prefix every namespace's name starts with. */
  readonly prefix: string;
  /** The hub's namespace, `<prefix>-hub`, holding the bridge `br0`. */
  readonly hubNs: string;
  /** The hub's address on the bridge (`10.231.<N>.1`). */
  readonly hubAddress: string;
  /** The fleet's network, `10.231.<N>.0/24`. */
  readonly subnet: string;
  /** The hosts, by name. */
  readonly hosts: Readonly<Record<string, FleetHost>>;
  /**
   * Starts `command` with `args` in `host`'s namespace (`ip netns exec <ns> command ...args`,
   * an argument array, never a shell). `ip netns exec` execs the command, so the child's pid is
   * the command's. Children still running at {@link FleetNet.cleanup} are killed.
   *
   * @param host - a host's name
   * @param command - the program, found on PATH
   * @param args - its arguments
   * @param options - spawn's options (`stdio`, `env`, `cwd`, ...)
   */
  exec(host: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** {@link FleetNet.exec} in the hub's namespace (on the bridge, with every host in reach). */
  spawnInHub(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Runs `command` in `host`'s namespace to its end and resolves with its exit code, stdout and
   * stderr, whatever the exit code; rejects only when it cannot start.
   */
  run(host: string, command: string, args: readonly string[], options?: FleetRunOptions): Promise<Exited>;
  /**
   * Partitions `host`: downs the hub's end of its veth. The host keeps its address and
   * routes; frames to and from it are dropped without an error, so clients wait until their
   * own timeouts.
   */
  linkDown(host: string): Promise<void>;
  /** Ends {@link FleetNet.linkDown}: ups the veth and waits until the bridge forwards on it. */
  linkUp(host: string): Promise<void>;
  /**
   * Kills the processes started in the namespaces, removes every namespace of the prefix
   * (their bridge and veths go with them) and the prefix's claim. Safe to call twice.
   */
  cleanup(): Promise<void>;
}

const PREFIX = /^cvn(-?[a-z0-9])*$/;
const HOST = /^[a-z][a-z0-9]{0,9}$/;
const BRIDGE = 'br0';
const HOST_INTERFACE = 'eth0';

/** Why `prefix` cannot name a fleet, or `undefined`. */
function badPrefix(prefix: string): string | undefined {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.length > 20)
    return `prefix "${prefix}" must be "cvn", then letters, digits and single hyphens, at most 20 characters (e.g. "cvn-fleet")`;
  return undefined;
}

/**
 * The third octet of the fleet's network, `10.231.<N>.0/24`, from its prefix: 1 to 250, the
 * same for the same prefix. Fleets never see each other (each bridge is in its own hub), so two
 * prefixes with the same N do not conflict; N only tells fleets apart in captures and logs.
 *
 * @param prefix - the fleet's prefix
 */
export function subnetOctet(prefix: string): number {
  return (createHash('sha256').update(prefix).digest().readUInt16BE(0) % 250) + 1;
}

/**
 * The names, addresses and `ip` command lines of a fleet, without running anything.
 *
 * @param options - prefix and hosts
 * @throws when the prefix or a host's name is not one this harness accepts
 */
export function planFleetNet(options: FleetNetOptions) {
  const problem = badPrefix(options.prefix);
  if (problem) throw new Error(problem);
  const { prefix } = options;
  const seen = new Set<string>();
  for (const host of options.hosts) {
    if (typeof host !== 'string' || !HOST.test(host) || host === 'hub')
      throw new Error(
        `host "${host}" must be a lower-case letter, then letters or digits, at most 10 characters, and not "hub"`,
      );
    if (seen.has(host)) throw new Error(`host "${host}" is named twice`);
    seen.add(host);
  }
  if (seen.size === 0) throw new Error('a fleet needs at least one host');
  if (seen.size > 200) throw new Error('at most 200 hosts');
  const octet = subnetOctet(prefix);
  const net = `10.231.${octet}`;
  const hubNs = `${prefix}-hub`;
  const hosts: Record<string, FleetHost> = {};
  options.hosts.forEach((name, index) => {
    hosts[name] = {
      name,
      ns: `${prefix}-${name}`,
      address: `${net}.${11 + index}`,
      interface: HOST_INTERFACE,
      hubVeth: `v-${name}`,
    };
  });
  /** The set-up as `ip` argument lists, in order. */
  const setup: string[][] = [
    ['netns', 'add', hubNs],
    ['-n', hubNs, 'link', 'set', 'lo', 'up'],
    ['-n', hubNs, 'link', 'add', BRIDGE, 'type', 'bridge'],
    ['-n', hubNs, 'addr', 'add', `${net}.1/24`, 'dev', BRIDGE],
    ['-n', hubNs, 'link', 'set', BRIDGE, 'up'],
  ];
  for (const host of Object.values(hosts)) {
    setup.push(
      ['netns', 'add', host.ns],
      ['-n', host.ns, 'link', 'set', 'lo', 'up'],
      // Both ends made where they belong: the root namespace never holds either.
      [
        'link',
        'add',
        host.hubVeth,
        'netns',
        hubNs,
        'type',
        'veth',
        'peer',
        'name',
        host.interface,
        'netns',
        host.ns,
      ],
      ['-n', hubNs, 'link', 'set', host.hubVeth, 'master', BRIDGE],
      ['-n', hubNs, 'link', 'set', host.hubVeth, 'up'],
      ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', host.interface],
      ['-n', host.ns, 'link', 'set', host.interface, 'up'],
    );
  }
  return {
    prefix,
    hubNs,
    hubAddress: `${net}.1`,
    subnet: `${net}.0/24`,
    hosts,
    setup,
    /** Whether a namespace's name is one of this prefix's (`<prefix>-<letters or digits>`). */
    owns: (ns: string) => ns.startsWith(`${prefix}-`) && /^[a-z0-9]+$/.test(ns.slice(prefix.length + 1)),
  };
}

/** The network namespaces `ip netns list` names. */
async function namespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** The pids of the processes in `ns`. */
async function pidsIn(ns: string): Promise<number[]> {
  const out = await run('ip', ['netns', 'pids', ns]).catch(() => '');
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

/** Kills what runs in `ns` (started in it by this harness) and removes it. */
async function removeNamespace(ns: string): Promise<void> {
  // A namespace with processes in it outlives `ip netns delete` (with its veths) until they end.
  for (const pid of await pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(async () => (await pidsIn(ns)).length === 0, {
    what: `the processes in network namespace ${ns} to end`,
    timeoutMs: 30_000,
  });
  await run('ip', ['netns', 'delete', ns]).catch(async (error: unknown) => {
    if ((await namespaces()).includes(ns)) throw error;
  });
}

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), or `undefined` when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Where the process holding a prefix is written: `<pid> <start time>`. */
const claimFile = (prefix: string) => join(tmpdir(), `cachevol-netns-${prefix}.owner`);

/** The live process other than this one that holds `prefix`, or `undefined`. */
function liveOwner(prefix: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(claimFile(prefix), 'utf8');
  } catch {
    return undefined;
  }
  const [pid, started] = text.trim().split(' ');
  const owner = Number(pid);
  if (!Number.isInteger(owner) || owner === process.pid) return undefined;
  return started !== undefined && startTime(owner) === started ? owner : undefined;
}

/**
 * Makes a fleet of hosts as network namespaces (see the module's description): removes what a
 * killed run of the same prefix left, then makes the hub, its bridge and one namespace per host.
 * A failure half-way removes what was made.
 *
 * @param options - the prefix and the hosts' names
 * @throws when another live process holds the prefix, or an `ip` command fails
 *
 * @example
 * ```ts
 * const fleet = await createFleetNet({ prefix: 'cvn-e2e', hosts: ['a', 'b', 'c'] })
 * const agent = fleet.exec('a', 'node', [cli, 'serve', '--host', fleet.hosts.a.address])
 * await fleet.linkDown('a') // b and c no longer reach a
 * await fleet.cleanup()
 * ```
 */
export async function createFleetNet(options: FleetNetOptions): Promise<FleetNet> {
  const plan = planFleetNet(options);
  const owner = liveOwner(plan.prefix);
  if (owner !== undefined)
    throw new Error(
      `network namespaces ${plan.prefix}-* belong to process ${owner}, which is still running: use another prefix, or end it (its claim: ${claimFile(plan.prefix)})`,
    );
  const children = new Set<ChildProcess>();
  let cleaned = false;

  const removeAll = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    children.clear();
    // Hosts first, the hub last: whatever of the prefix exists, including a half-made set-up's.
    const mine = (await namespaces()).filter(plan.owns);
    const ordered = [...mine.filter((ns) => ns !== plan.hubNs), ...mine.filter((ns) => ns === plan.hubNs)];
    for (const ns of ordered) await removeNamespace(ns);
  };

  await removeAll(); // a killed run's leftovers
  const started = startTime(process.pid);
  await writeFile(claimFile(plan.prefix), `${process.pid} ${started ?? ''}\n`);
  try {
    for (const args of plan.setup) await run('ip', args);
  } catch (error) {
    await removeAll().catch(() => undefined);
    await rm(claimFile(plan.prefix), { force: true });
    throw error;
  }

  const hostOf = (name: string): FleetHost => {
    const host = plan.hosts[name];
    if (!host)
      throw new Error(`no host "${name}" in fleet ${plan.prefix} (${Object.keys(plan.hosts).join(', ')})`);
    return host;
  };
  const spawnIn = (ns: string, command: string, args: readonly string[], spawnOptions: SpawnOptions = {}) => {
    if (cleaned) throw new Error(`fleet ${plan.prefix} has been cleaned up`);
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], spawnOptions);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
  const setLink = async (name: string, state: 'up' | 'down') => {
    const host = hostOf(name);
    await run('ip', ['-n', plan.hubNs, 'link', 'set', host.hubVeth, state]);
  };

  return {
    prefix: plan.prefix,
    hubNs: plan.hubNs,
    hubAddress: plan.hubAddress,
    subnet: plan.subnet,
    hosts: plan.hosts,
    exec: (host, command, args, spawnOptions) => spawnIn(hostOf(host).ns, command, args, spawnOptions),
    spawnInHub: (command, args, spawnOptions) => spawnIn(plan.hubNs, command, args, spawnOptions),
    run(host, command, args, runOptions = {}) {
      const child = spawnIn(hostOf(host).ns, command, args, {
        cwd: runOptions.cwd,
        env: runOptions.env ?? { ...process.env, LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return new Promise((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer =
          runOptions.timeoutMs === undefined
            ? undefined
            : setTimeout(() => child.kill('SIGKILL'), runOptions.timeoutMs);
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    linkDown: (host) => setLink(host, 'down'),
    async linkUp(name) {
      await setLink(name, 'up');
      const host = hostOf(name);
      // Up on both ends, and the bridge port forwarding (no STP: at once, but not synchronously).
      await waitFor(
        async () => {
          const [port] = JSON.parse(
            await run('ip', ['-n', plan.hubNs, '-j', '-d', 'link', 'show', 'dev', host.hubVeth]),
          ) as { operstate?: string; linkinfo?: { info_slave_data?: { state?: string } } }[];
          return port?.operstate === 'UP' && port.linkinfo?.info_slave_data?.state === 'forwarding';
        },
        { what: `the veth of ${name} to forward again`, timeoutMs: 30_000 },
      );
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await removeAll();
      await rm(claimFile(plan.prefix), { force: true });
    },
  };
}

/**
 * A connection string for the PostgreSQL of `url` that works from inside the fleet's
 * namespaces: over the server's unix socket (a file, reachable from every namespace), since
 * `127.0.0.1` in a namespace is that namespace's own loopback. A URL that already names a
 * socket directory (`?host=/tmp/dir`, `.ci/postgres.sh`'s and the store tests' clusters) comes
 * back as it is; one on `localhost`/`127.0.0.1` gets the directory where the socket of its port
 * is (`.s.PGSQL.<port>` in `/run/postgresql`, `/var/run/postgresql`, `/tmp`, or a
 * `cachevol-*-pg-*` directory of the temp directory).
 *
 * @param url - a `postgres://` connection string @defaultValue `CACHEVOL_TEST_POSTGRES_URL`
 * @param socketDirs - where to look for the socket
 * @throws when no socket can be found, or the server is on another machine (no namespace of
 *   the fleet has a route to it)
 */
export function postgresUrlForNamespaces(
  url: string | undefined = process.env.CACHEVOL_TEST_POSTGRES_URL,
  socketDirs: readonly string[] = defaultSocketDirs(),
): string {
  if (!url)
    throw new Error('CACHEVOL_TEST_POSTGRES_URL is not set: `source .ci/postgres.sh; postgres_setup`');
  // Not WHATWG's URL: it refuses `postgres://user@/db?host=…` (credentials without a host).
  const parts = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(url);
  if (!parts) throw new Error(`"${url}" is not a postgres:// connection string`);
  const [, scheme = '', userinfo = '', authority = '', path = '/', query = ''] = parts;
  const params = new URLSearchParams(query);
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(authority);
  const [host = '', hostPort] = bracketed
    ? [bracketed[1], bracketed[2]]
    : [decodeURIComponent(authority.replace(/:\d+$/, '')), /:(\d+)$/.exec(authority)?.[1]];
  if (params.get('host')?.startsWith('/') || host.startsWith('/')) return url;
  if (!['', 'localhost', '127.0.0.1', '::1'].includes(host))
    throw new Error(
      `PostgreSQL at ${host} is not on this machine: the fleet's namespaces have no route to it; use a server with a unix socket here`,
    );
  const port = hostPort ?? params.get('port') ?? '5432';
  const dir = socketDirs.find((candidate) => existsSync(join(candidate, `.s.PGSQL.${port}`)));
  if (!dir)
    throw new Error(
      `no unix socket of the PostgreSQL on port ${port} in ${socketDirs.join(', ')}: start it with a socket directory (-k), as .ci/postgres.sh does`,
    );
  params.set('host', dir);
  params.set('port', port);
  return `${scheme}${userinfo}${path}?${params.toString()}`;
}

function defaultSocketDirs(): string[] {
  const temp = tmpdir();
  let own: string[] = [];
  try {
    own = readdirSync(temp)
      .filter((name) => /^cachevol-.*pg-/.test(name))
      .map((name) => join(temp, name));
  } catch {
    own = [];
  }
  return ['/run/postgresql', '/var/run/postgresql', '/tmp', ...own];
}
