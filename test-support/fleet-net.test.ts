import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../packages/store-postgres/test/helpers/postgres.js';
import {
  createFleetNet,
  type FleetNet,
  planFleetNet,
  postgresUrlForNamespaces,
  subnetOctet,
} from './fleet-net.js';
import { describeWith, itWith } from './gate.js';
import { run } from './run.js';
import { waitFor } from './wait.js';

const PREFIX = 'cvn-fnt';

/** A server that answers every request with its argument, and says so on stdout. */
const SERVER = `
const [address, nonce] = process.argv.slice(1);
const server = require('node:http').createServer((_, response) => response.end(nonce));
server.listen(8080, address, () => console.log('listening'));`;

/** One GET with a client timeout; prints `{ body }` or `{ error }` (the error's name or code). */
const CLIENT = `
const [url, ms] = process.argv.slice(1);
fetch(url, { signal: AbortSignal.timeout(Number(ms)) })
  .then((response) => response.text())
  .then(
    (body) => console.log(JSON.stringify({ body })),
    (error) => console.log(JSON.stringify({ error: error.cause?.code ?? error.name })),
  )
  // An aborted fetch leaves its connection attempt open until undici's own connect timeout.
  .then(() => process.exit(0));`;

/** Connects with `pg` and asks the server which database it is. */
const PG_CLIENT = `
const pg = require(process.argv[1]);
const client = new pg.Client({ connectionString: process.argv[2], connectionTimeoutMillis: 20000 });
client.connect().then(() => client.query('SELECT current_database() AS db')).then(
  async (result) => { console.log(result.rows[0].db); await client.end(); },
  (error) => { console.error(String(error && error.message || error)); process.exit(1); },
);`;

describe('fleet-net, planned without running anything', () => {
  it('names namespaces after the prefix and gives each host an address on one /24', () => {
    const plan = planFleetNet({ prefix: 'cvn-x', hosts: ['a', 'b'] });
    const n = subnetOctet('cvn-x');
    expect(plan.hubNs).toBe('cvn-x-hub');
    expect(plan.subnet).toBe(`10.231.${n}.0/24`);
    expect(plan.hubAddress).toBe(`10.231.${n}.1`);
    expect(plan.hosts.b).toEqual({
      name: 'b',
      ns: 'cvn-x-b',
      address: `10.231.${n}.12`,
      interface: 'eth0',
      hubVeth: 'v-b',
    });
    // Both ends of a veth are made in their namespaces; nothing is ever added to the root's.
    const veths = plan.setup.filter((args) => args.includes('veth'));
    expect(veths).toEqual([
      [
        'link',
        'add',
        'v-a',
        'netns',
        'cvn-x-hub',
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        'cvn-x-a',
      ],
      [
        'link',
        'add',
        'v-b',
        'netns',
        'cvn-x-hub',
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        'cvn-x-b',
      ],
    ]);
    expect(
      plan.setup.every((args) => args[0] === '-n' || args[0] === 'netns' || args.includes('netns')),
    ).toBe(true);
    expect(plan.owns('cvn-x-a')).toBe(true);
    expect(plan.owns('cvn-x-y-a'), 'another prefix (cvn-x-y)').toBe(false);
    expect(plan.owns('cvn-xa')).toBe(false);
  });

  it('refuses names it could not clean up after', () => {
    expect(() => planFleetNet({ prefix: 'fleet', hosts: ['a'] })).toThrow(/must be "cvn"/);
    expect(() => planFleetNet({ prefix: 'cvn--x', hosts: ['a'] })).toThrow(/must be "cvn"/);
    expect(() => planFleetNet({ prefix: 'cvn-x', hosts: ['hub'] })).toThrow(/not "hub"/);
    expect(() => planFleetNet({ prefix: 'cvn-x', hosts: ['a-b'] })).toThrow(/lower-case letter/);
    expect(() => planFleetNet({ prefix: 'cvn-x', hosts: ['a', 'a'] })).toThrow(/named twice/);
    expect(() => planFleetNet({ prefix: 'cvn-x', hosts: [] })).toThrow(/at least one host/);
  });

  it('derives a socket connection string for PostgreSQL, or says why there is none', () => {
    const socketUrl = 'postgres://postgres@/cachevol_test?host=%2Ftmp%2Fpg&port=5999';
    expect(postgresUrlForNamespaces(socketUrl, [])).toBe(socketUrl);
    const dir = mkdtempSync(join(tmpdir(), 'cachevol-test-fleet-net-'));
    try {
      writeFileSync(join(dir, '.s.PGSQL.5999'), '');
      expect(postgresUrlForNamespaces('postgres://postgres:pw@127.0.0.1:5999/cachevol_test', [dir])).toBe(
        `postgres://postgres:pw@/cachevol_test?host=${encodeURIComponent(dir)}&port=5999`,
      );
      expect(() => postgresUrlForNamespaces('postgres://u@localhost:6001/db', [dir])).toThrow(
        /no unix socket of the PostgreSQL on port 6001/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => postgresUrlForNamespaces('postgres://u@db.example:5432/db', [])).toThrow(
      /not on this machine/,
    );
  });
});

/** The names of the root namespace's interfaces. */
async function rootLinks(): Promise<string[]> {
  return (JSON.parse(await run('ip', ['-j', 'link', 'show'])) as { ifname: string }[])
    .map((l) => l.ifname)
    .sort();
}

const prefixNamespaces = async () =>
  (await run('ip', ['netns', 'list'])).split('\n').filter((line) => line.startsWith(`${PREFIX}-`));

describeWith('netns', 'fleet-net: hosts as network namespaces', () => {
  let fleet: FleetNet;
  let linksBefore: string[] = [];
  const nonce = `from-a-${process.pid}-${Date.now()}`;
  let urlOfA = '';

  /** A GET of `url` from `host`'s namespace with a client timeout of `ms`. */
  async function get(host: string, url: string, ms: number): Promise<{ body?: string; error?: string }> {
    const done = await fleet.run(host, process.execPath, ['-e', CLIENT, url, String(ms)], {
      timeoutMs: 60_000,
    });
    expect(done.code, done.stderr).toBe(0);
    return JSON.parse(done.stdout) as { body?: string; error?: string };
  }

  beforeAll(async () => {
    linksBefore = await rootLinks();
    fleet = await createFleetNet({ prefix: PREFIX, hosts: ['a', 'b', 'c'] });
    const a = fleet.hosts.a;
    if (!a) throw new Error('no host a');
    urlOfA = `http://${a.address}:8080/`;
    const server = fleet.exec('a', process.execPath, ['-e', SERVER, a.address, nonce], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitFor(
      () => {
        if (server.exitCode !== null) throw new Error(`the server in a exited with ${server.exitCode}`);
        return (server.stdout?.read() as Buffer | null)?.toString().includes('listening');
      },
      { what: "the server in a's namespace to listen" },
    );
  });
  afterAll(async () => {
    await fleet?.cleanup();
  });

  it("b reaches a server in a's namespace by a's address; the root namespace does not", async () => {
    expect(await get('b', urlOfA, 20_000)).toEqual({ body: nonce });
    expect(await get('c', urlOfA, 20_000)).toEqual({ body: nonce });
    const fromHub = fleet.spawnInHub(process.execPath, ['-e', CLIENT, urlOfA, '20000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let hubSaid = '';
    fromHub.stdout?.on('data', (d: Buffer) => {
      hubSaid += d.toString();
    });
    await once(fromHub, 'close');
    expect(JSON.parse(hubSaid)).toEqual({ body: nonce });

    // Isolation, without sending anything out of the fleet: the root namespace has no interface
    // or address on the fleet's network, and its route to a's address is not a link of its own
    // (it leads wherever the root's default route leads, never to a).
    const rootAddresses = await run('ip', ['-o', 'addr', 'show']);
    expect(rootAddresses).not.toContain(fleet.subnet.replace(/0\/24$/, ''));
    expect(await rootLinks()).toEqual(linksBefore);
    const addressOfA = fleet.hosts.a?.address ?? '';
    const route = await run('ip', ['-o', 'route', 'get', addressOfA]).catch(String);
    expect(route).not.toMatch(/dev (br0|v-a|eth0@)/);
    expect(route).not.toMatch(new RegExp(`${addressOfA.replace(/\./g, '\\.')} dev \\S+ src`));
  });

  it('linkDown partitions a (a request from b times out), linkUp heals it', async () => {
    expect(await get('b', urlOfA, 20_000)).toEqual({ body: nonce });
    await fleet.linkDown('a');
    expect(await get('b', urlOfA, 1500)).toEqual({ error: 'TimeoutError' });
    await fleet.linkUp('a');
    // Works again; the first attempt may still wait for b to resolve a's address anew.
    const healed = await waitFor(
      async () => {
        const answer = await get('b', urlOfA, 3000);
        return answer.body === nonce ? answer : undefined;
      },
      { what: 'b to reach a again after linkUp', timeoutMs: 60_000 },
    );
    expect(healed).toEqual({ body: nonce });
  });

  itWith('postgres', "a process in a host's namespace reaches PostgreSQL over its unix socket", async () => {
    const given = process.env.CACHEVOL_TEST_POSTGRES_URL;
    let cluster: Cluster | undefined;
    try {
      if (!given) cluster = await startCluster();
      const url = postgresUrlForNamespaces(given ?? cluster?.url);
      const driver = createRequire(
        new URL('../packages/store-postgres/package.json', import.meta.url),
      ).resolve('pg');
      const done = await fleet.run('c', process.execPath, ['-e', PG_CLIENT, driver, url], {
        timeoutMs: 60_000,
      });
      expect(done, done.stderr).toMatchObject({ code: 0, stdout: 'cachevol_test\n' });
    } finally {
      await cluster?.destroy();
    }
  });

  it('cleanup kills what runs in the namespaces and leaves no namespace or veth', async () => {
    const sleeper = fleet.exec('b', 'sleep', ['600'], { stdio: 'ignore' });
    await waitFor(() => sleeper.pid, { what: 'sleep to start in b' });
    const exited = once(sleeper, 'exit');
    expect(await prefixNamespaces()).toHaveLength(4);
    await fleet.cleanup();
    await exited;
    expect(await prefixNamespaces()).toEqual([]);
    expect(await rootLinks()).toEqual(linksBefore);
    await fleet.cleanup(); // twice is fine
    expect(() => fleet.exec('a', 'true', [])).toThrow(/cleaned up/);
  });
});

describeWith('netns', 'fleet-net: set-up after a killed run, and beside a live one', () => {
  const prefix = `${PREFIX}x`;

  it('removes what a killed run of the same prefix left (a half-made set-up) before it starts', async () => {
    await run('ip', ['netns', 'add', `${prefix}-hub`]);
    await run('ip', ['netns', 'add', `${prefix}-a`]);
    const fleet = await createFleetNet({ prefix, hosts: ['b'] });
    try {
      const names = (await run('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0]);
      expect(names.filter((name) => name?.startsWith(`${prefix}-`)).sort()).toEqual([
        `${prefix}-b`,
        `${prefix}-hub`,
      ]);
    } finally {
      await fleet.cleanup();
    }
    expect(await run('ip', ['netns', 'list'])).not.toContain(`${prefix}-`);
  });

  it('refuses a prefix that a live process holds, and leaves its namespaces alone', async () => {
    // Process 1 stands for another test run that holds the prefix.
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const claim = join(tmpdir(), `cachevol-netns-${prefix}.owner`);
    writeFileSync(claim, `1 ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`);
    await run('ip', ['netns', 'add', `${prefix}-hub`]);
    try {
      await expect(createFleetNet({ prefix, hosts: ['a'] })).rejects.toThrow(
        /belong to process 1, which is still running/,
      );
      expect(await run('ip', ['netns', 'list'])).toContain(`${prefix}-hub`);
    } finally {
      rmSync(claim, { force: true });
      await run('ip', ['netns', 'delete', `${prefix}-hub`]);
    }
  });
});
