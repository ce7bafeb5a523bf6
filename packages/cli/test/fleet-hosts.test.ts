import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFleetNet, type FleetNet, postgresUrlForNamespaces } from '../../../test-support/fleet-net.js';
import { describeWith } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { waitFor } from '../../../test-support/wait.js';
import { type Cluster, startCluster } from '../../store-postgres/test/helpers/postgres.js';
import { BIN, ensureBuilt, REPO, tempDir } from './helpers/cli.js';

/**
 * Three hosts, as a user sets them up: three network namespaces joined by veth pairs to one
 * bridge, hosts a and b each on a loopback btrfs of their own and c on the dir backend, one
 * PostgreSQL store reached by all (over its unix socket), a `cachevol serve` per host, and jobs
 * run with `cachevol run` inside each namespace. Traffic stays inside the namespaces.
 */

const TOKEN = randomBytes(24).toString('hex');
const PORT = 7077;
const S3_PORT = 9000;
const BUCKET = 'cachevol-fleet';
/** A host on its own: no peers, no object store (a commit that only it holds). */
const ALONE = { CACHEVOL_PEERS: '', CACHEVOL_OBJECTS: '' };

/** s3rver with one bucket, on the hub's address: `node -e S3RVER <s3rver> <address> <port> <dir> <bucket>`. */
const S3RVER = `
const [module, address, port, directory, bucket] = process.argv.slice(1);
const S3rver = require(module);
new S3rver({ address, port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] })
  .run()
  .then(() => console.log('listening'));`;
const SCOPE = `fleet-${randomBytes(3).toString('hex')}`;

/** A job that writes `files` files of 16 KiB of noise under cache/ (a fresh tree), or rewrites `change` of them. */
const JOB = `
const fs = require('node:fs'), crypto = require('node:crypto');
const [files, change, mark] = process.argv.slice(1).map((v, i) => (i < 2 ? Number(v) : v));
fs.mkdirSync('cache/pkgs', { recursive: true });
const have = fs.readdirSync('cache/pkgs').length;
const todo = have === 0 ? files : change;
for (let i = 0; i < todo; i++) fs.writeFileSync('cache/pkgs/f' + i + '.bin', crypto.randomBytes(16384));
const was = fs.existsSync('cache/mark') ? fs.readFileSync('cache/mark', 'utf8') : 'none';
fs.writeFileSync('cache/mark', mark);
console.log('saw ' + have + ' files marked ' + was + ', wrote ' + todo);`;

interface Host {
  name: string;
  backend: 'btrfs' | 'dir';
  root: string;
  work: string;
  address: string;
  serve?: ChildProcess;
}

describeWith(
  ['root', 'netns', 'btrfs', 'postgres-cluster'],
  'three hosts moving versions (netns, btrfs, dir, PostgreSQL)',
  () => {
    let net: FleetNet;
    let cluster: Cluster | undefined;
    let store: string;
    let s3: ChildProcess | undefined;
    const disks: LoopBtrfs[] = [];
    let cleanupDir: () => Promise<void> = async () => undefined;
    const hosts: Record<string, Host> = {};

    const env = (host: Host, extra: Record<string, string> = {}) => ({
      ...process.env,
      CI: '',
      NO_COLOR: '1',
      CACHEVOL_BACKEND: host.backend,
      CACHEVOL_ROOT: host.root,
      CACHEVOL_STORE: store,
      CACHEVOL_HOST: host.name,
      CACHEVOL_TOKEN: TOKEN,
      // More than the default two: an incremental needs a base both hosts still hold.
      CACHEVOL_VERSIONS_PER_VOLUME: '4',
      // The object store in the hub: uploads in tar-zstd, which the dir host reads too.
      CACHEVOL_OBJECTS: `s3://${BUCKET}/fleet`,
      CACHEVOL_OBJECTS_ENDPOINT: `http://${net.hubAddress}:${S3_PORT}`,
      CACHEVOL_OBJECTS_FORMAT: 'tar-zstd',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      CACHEVOL_PEERS: Object.values(hosts)
        .filter((h) => h.name !== host.name)
        .map((h) => `${h.name}=http://${h.address}:${PORT}`)
        .join(','),
      ...extra,
    });

    const cli = (host: Host, args: string[], extra: Record<string, string> = {}, timeoutMs = 120_000) =>
      net.run(host.name, process.execPath, [BIN, ...args], {
        env: env(host, extra),
        cwd: host.work,
        timeoutMs,
      });

    const job = (host: Host, mark: string, extra: Record<string, string> = {}, files = 400, change = 20) =>
      cli(
        host,
        [
          'run',
          '--scope',
          SCOPE,
          '--name',
          'deps',
          '-c',
          'cache',
          '--',
          process.execPath,
          '-e',
          JOB,
          String(files),
          String(change),
          mark,
        ],
        extra,
      );

    async function serve(host: Host): Promise<void> {
      const child = net.exec(
        host.name,
        process.execPath,
        [BIN, 'serve', '--listen', `${host.address}:${PORT}`, '--json'],
        {
          env: env(host),
          cwd: host.work,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      host.serve = child;
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const printed = () => {
        try {
          return JSON.parse(out) as unknown;
        } catch {
          return undefined;
        }
      };
      await waitFor(() => printed() !== undefined || child.exitCode !== null, {
        what: `cachevol serve on ${host.name}`,
        timeoutMs: 60_000,
      });
      expect(printed(), err).toEqual({
        url: `http://${host.address}:${PORT}`,
        host: host.name,
        root: host.root,
      });
    }

    async function stopServe(host: Host, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
      const child = host.serve;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const closed = once(child, 'close');
      child.kill(signal);
      await closed;
    }

    /** The versions of deps as `ls --json` on `host` shows them, head first. */
    async function versions(host: Host) {
      const listed = await cli(host, ['ls', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const volume = JSON.parse(listed.stdout).volumes.find((v: { scope: string }) => v.scope === SCOPE);
      return (volume?.versions ?? []) as {
        id: string;
        head: boolean;
        hosts: string[];
        committedAt: string;
      }[];
    }

    /** The backend entries under a host's root that are not versions or forks the store records. */
    async function leftovers(host: Host): Promise<string[]> {
      const reconcile = await cli(host, ['reconcile', '--json']);
      expect(reconcile.code, reconcile.stderr).toBe(0);
      return JSON.parse(reconcile.stdout).unaccounted.map((e: { id: string }) => e.id);
    }

    const pulled = (stderr: string) =>
      /pulled version (\S+) of deps from host (\S+): .* (relative to (\S+)|whole) in/.exec(stderr);

    beforeAll(async () => {
      ensureBuilt(['backend-btrfs', 'store-postgres']);
      let dir: string;
      ({ dir, cleanup: cleanupDir } = await tempDir('fleet-hosts'));
      cluster = await startCluster();
      store = postgresUrlForNamespaces(cluster.url);
      net = await createFleetNet({ prefix: 'cvn-hosts', hosts: ['a', 'b', 'c'] });
      const s3rver = createRequire(join(REPO, 'packages/objects-s3/package.json')).resolve('s3rver');
      const server = net.spawnInHub(
        process.execPath,
        ['-e', S3RVER, s3rver, net.hubAddress, String(S3_PORT), join(dir, 's3'), BUCKET],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      s3 = server;
      let s3out = '';
      server.stdout?.on('data', (d: Buffer) => {
        s3out += d.toString();
      });
      await waitFor(() => s3out.includes('listening') || server.exitCode !== null, {
        what: 's3rver in the hub',
        timeoutMs: 60_000,
      });
      expect(s3out).toContain('listening');
      for (const name of ['a', 'b', 'c']) {
        const backend = name === 'c' ? 'dir' : 'btrfs';
        let root = join(dir, `root-${name}`);
        if (backend === 'btrfs') {
          const disk = await createLoopBtrfs({
            prefix: `cachevol-test-fleet-${name}-`,
            sizeBytes: 1024 * 2 ** 20,
          });
          disks.push(disk);
          root = join(disk.mountPoint, 'cachevol');
        }
        const work = join(dir, `work-${name}`);
        await mkdir(work, { recursive: true });
        hosts[name] = { name, backend, root, work, address: net.hosts[name]?.address as string };
      }
      for (const host of Object.values(hosts)) await serve(host);
    }, 300_000);

    afterAll(async () => {
      for (const host of Object.values(hosts)) await stopServe(host, 'SIGKILL').catch(() => undefined);
      s3?.kill('SIGKILL');
      await net?.cleanup();
      for (const disk of disks) await disk.destroy().catch(() => undefined);
      await cluster?.destroy?.();
      await cleanupDir();
    }, 300_000);

    const A = () => hosts.a as Host;
    const B = () => hosts.b as Host;
    const C = () => hosts.c as Host;

    it('a commit on A is a hit on B, and the next one arrives as an incremental', async () => {
      const first = await job(A(), 'a1');
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/deps: miss/);
      const v1 = (await versions(A()))[0]?.id as string;

      const onB = await job(B(), 'b-reads', {}, 400, 0);
      expect(onB.code, onB.stderr).toBe(0);
      expect(onB.stdout).toContain('saw 400 files marked a1,');
      expect(onB.stderr).toMatch(new RegExp(`pulled version ${v1} of deps from host a: .* whole`));
      expect(onB.stderr).toMatch(/deps: hit/);

      // A commits a change of 5% (20 of 400 files); B pulls it relative to the version it holds.
      const second = await job(A(), 'a2', ALONE, 400, 20);
      expect(second.code, second.stderr).toBe(0);
      const v2 = (await versions(A()))[0]?.id as string;
      const pull = await cli(B(), ['pull', 'deps', '--scope', SCOPE, '--json']);
      expect(pull.code, pull.stderr).toBe(0);
      const report = JSON.parse(pull.stdout);
      expect(report).toMatchObject({ versionId: v2, received: true, format: 'btrfs-send', from: 'a' });
      // The pulled v1 and B's own commit are both bases A could use; the stream is an incremental.
      expect(report.baseId).not.toBeNull();
      expect(report.bytes).toBeLessThan((400 * 16384) / 4);
      const docs = await readFile(join(REPO, 'docs/cli.md'), 'utf8');
      const documented = JSON.parse(
        /<!-- json-fleet: pull -->\n```json\n([\s\S]*?)\n```/.exec(docs)?.[1] ?? '{}',
      );
      expect(Object.keys(report).sort()).toEqual(Object.keys(documented).sort());
      const hit = await job(B(), 'b2', {}, 400, 0);
      expect(hit.stderr).toMatch(/deps: hit/);
      expect(await leftovers(B())).toEqual([]);
    }, 300_000);

    it('a wrong token is refused: nothing is served, and the host keeps nothing', async () => {
      const before = await versions(C());
      const wrong = await cli(C(), ['pull', 'deps', '--scope', SCOPE, '--json'], {
        CACHEVOL_TOKEN: 'x'.repeat(32),
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/refused the token/);
      expect(await versions(C())).toEqual(before);
      const raw = await net.run('c', process.execPath, [
        '-e',
        `fetch(process.argv[1]).then((r) => console.log(r.status))`,
        `http://${A().address}:${PORT}/v1/versions/${SCOPE}/deps/v-x`,
      ]);
      expect(raw.stdout.trim()).toBe('401');
      expect(await leftovers(C())).toEqual([]);
    }, 120_000);

    it('a cold host C restores the head from the object store while A is down', async () => {
      const onA = await job(A(), 'for-the-bucket', { CACHEVOL_PEERS: '' }, 400, 10);
      expect(onA.code, onA.stderr).toBe(0);
      const head = (await versions(A()))[0];
      expect(head?.hosts).toEqual(['a']);
      await stopServe(A());
      try {
        const onC = await job(C(), 'c-cold', {}, 400, 0);
        expect(onC.code, onC.stderr).toBe(0);
        expect(onC.stderr).toMatch(
          new RegExp(`pulled version ${head?.id} of deps from the object store: .* whole`),
        );
        expect(onC.stderr).toMatch(/deps: hit/);
        expect(onC.stdout).toContain('saw 400 files marked for-the-bucket,');
        expect(await leftovers(C())).toEqual([]);
      } finally {
        await serve(A());
      }
    }, 300_000);

    it('concurrent commits on A and B: the last to finish is the head, and C (dir) gets it whole', async () => {
      const [onA, onB] = await Promise.all([job(A(), 'from-a', {}, 400, 5), job(B(), 'from-b', {}, 400, 5)]);
      expect(onA.code, onA.stderr).toBe(0);
      expect(onB.code, onB.stderr).toBe(0);
      const listed = await versions(C());
      const head = listed.find((v) => v.head);
      const newest = [...listed].sort((x, y) => y.committedAt.localeCompare(x.committedAt))[0];
      expect(head?.id).toBe(newest?.id);
      const onC = await job(C(), 'c-reads', {}, 400, 0);
      expect(onC.code, onC.stderr).toBe(0);
      expect(onC.stderr).toMatch(/deps: hit/);
      const seen = pulled(onC.stderr);
      expect(seen?.[1]).toBe(head?.id);
      expect(seen?.[3]).toBe('whole'); // dir reads only tar-zstd, which has no incrementals
      // The head's first host is the one that committed it: C sees that job's mark.
      expect(onC.stdout).toContain(`marked from-${head?.hosts[0]},`);
    }, 300_000);

    it('the sender killed mid-stream: the job gets stale or miss within its budget, and nothing partial is left', async () => {
      // A big head on A only (64 MiB), pulled by B while A's agent is killed.
      const big = await job(A(), 'big', ALONE, 4096, 4096);
      expect(big.code, big.stderr).toBe(0);
      const pull = net.exec('b', process.execPath, [BIN, 'pull', 'deps', '--scope', SCOPE], {
        env: { ...env(B()), CACHEVOL_TRANSFER_BUDGET: '10s', CACHEVOL_OBJECTS: '' },
        cwd: B().work,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      pull.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const done = once(pull, 'close');
      // Killed once B's backend is receiving (its scratch subvolume exists).
      const versionsDir = join(B().root, 'data', 'versions');
      await waitFor(async () => (await readdir(versionsDir)).some((n) => n.startsWith('.tmp-')), {
        what: 'the receive on B to begin',
        timeoutMs: 60_000,
      });
      await stopServe(A(), 'SIGKILL');
      const [code] = await done;
      expect(code, err).toBe(1);
      expect(await leftovers(B())).toEqual([]);
      const started = Date.now();
      const stale = await job(
        B(),
        'after-kill',
        { CACHEVOL_TRANSFER_BUDGET: '5s', CACHEVOL_OBJECTS: '' },
        400,
        0,
      );
      expect(stale.code, stale.stderr).toBe(0);
      expect(stale.stderr).toMatch(/deps: (stale|miss)/);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(await leftovers(B())).toEqual([]);
      await serve(A());
    }, 300_000);

    it('a partitioned link: the job gets stale or miss within its budget, and nothing partial is left', async () => {
      const head = await job(A(), 'before-partition', ALONE, 400, 40);
      expect(head.code, head.stderr).toBe(0);
      await net.linkDown('a');
      try {
        const started = Date.now();
        const onB = await job(
          B(),
          'partitioned',
          { CACHEVOL_TRANSFER_BUDGET: '3s', CACHEVOL_OBJECTS: '' },
          400,
          0,
        );
        const took = Date.now() - started;
        expect(onB.code, onB.stderr).toBe(0);
        expect(onB.stderr).toMatch(/deps: (stale|miss)/);
        expect(onB.stderr).toMatch(/did not finish within 3000 ms|No data from/);
        // The attach waited at most its budget; the process then waited for the background pull
        // to fail (no data for the same time), never without bound.
        expect(took).toBeLessThan(60_000);
        expect(await leftovers(B())).toEqual([]);
      } finally {
        await net.linkUp('a');
      }
    }, 300_000);
  },
);
