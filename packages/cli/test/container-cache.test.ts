import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDirBackend } from '@cachevol/backend-dir';
import { CacheVolumes, createMemoryStore } from '@cachevol/core';
import { describeIfAvailable } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFilePool, type FilePool } from '../../../test-support/file-pool.js';
import { missingPrograms, unavailable } from '../../../test-support/gate.js';
import { createLoopBtrfs, type LoopBtrfs } from '../../../test-support/loop-btrfs.js';
import { run as runTool } from '../../../test-support/run.js';
import { attachContainerCache, type ContainerCache, startDockerEngine } from '../src/index.js';
import { type CliResult, cachevol, ensureBuilt, spawnCachevol, tempDir } from './helpers/cli.js';

// `cachevol run --container-cache`, run as a user runs it, with Debian's docker.io (dockerd
// 20.10) and busybox-static: an image built from local files only, whose later layer deletes a
// file. "Image listed" and "build cached" both pass when the cache is broken, so each job runs
// a container and looks for the deleted file.

const CONTEXT = fileURLToPath(new URL('./fixtures/container-image/', import.meta.url));
const BUSYBOX = '/bin/busybox';
const SLUG = 'app';
const VOLUME = `default/${SLUG}/container-cache`;

/** Why these tests cannot run here: root, dockerd, docker, mount, and a static busybox. */
function dockerProblem(): string | undefined {
  const base =
    unavailable('root') ??
    missingPrograms(['dockerd', 'docker'], 'docker.io (`apt-get install docker.io`)') ??
    missingPrograms(['mount', 'umount', 'setfattr'], 'mount and attr');
  if (base) return base;
  let binary: Buffer;
  try {
    binary = readFileSync(BUSYBOX);
  } catch {
    return `${BUSYBOX} not found: install busybox-static`;
  }
  // A dynamic executable names its loader; a container FROM scratch has none to offer.
  if (binary.includes('/ld-linux') || binary.includes('/ld-musl'))
    return `${BUSYBOX} is dynamically linked: install busybox-static`;
  return undefined;
}

/** What the container runs to show the image as it is: the deleted file must be absent. */
const CHECK_SCRIPT =
  'if test -e /data/gone; then echo "gone is BACK"; else echo "gone is absent"; fi; echo "dir holds:" $(/bin/busybox ls /data/dir)';
/** What every job of a test runs: a container of the image built, with {@link CHECK_SCRIPT}. */
const CHECK = `docker run --rm --network none app:1 /bin/busybox sh -c '${CHECK_SCRIPT}'`;
/** What {@link CHECK} prints when the image is as built: the file deleted, the directory replaced. */
const AS_BUILT = 'gone is absent\ndir holds: new\n';

type Run = (args: string[]) => Promise<CliResult>;

/** Kills (by pid) every dockerd whose command line names `dir`, and waits until they are gone. */
async function killDaemonsUnder(dir: string): Promise<number> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir) && /(^|\/)dockerd\0/.test(cmdline)) pids.push(Number(entry));
  }
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  for (const pid of pids) {
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch {
        break;
      }
    }
  }
  return pids.length;
}

/** Unmounts whatever is still mounted under `dir` (a daemon killed by the teardown). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '');
  for (const point of mounts.filter((p) => p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length))
    await runTool('umount', ['-l', point]).catch(() => undefined);
}

/** A working directory with the build context, and `cachevol` run in it with `env`. */
async function workspace(dir: string, env: Record<string, string>, backendArgs: string[] = []) {
  const work = join(dir, 'work');
  const tmp = join(dir, 'tmp');
  await mkdir(work, { recursive: true });
  await mkdir(tmp, { recursive: true });
  for (const name of ['Dockerfile', 'Dockerfile.failed'])
    await copyFile(join(CONTEXT, name), join(work, name));
  await copyFile(BUSYBOX, join(work, 'busybox'));
  const fullEnv = {
    ...env,
    TMPDIR: tmp,
    DOCKER_BUILDKIT: '0',
    DOCKER_CONFIG: join(dir, 'docker-config'),
    NO_COLOR: '1',
  };
  const run: Run = (args) => cachevol([...backendArgs, ...args], { cwd: work, env: fullEnv });
  const start = (args: string[]) => spawnCachevol([...backendArgs, ...args], { cwd: work, env: fullEnv });
  return { work, run, start };
}

const job = (script: string) => ['run', '--container-cache', SLUG, '--', 'sh', '-c', script];

/** The heart of it, on any backend: built, cached, the deletion kept, a failed job's images dropped. */
async function buildCachedDeletionKept(run: Run): Promise<void> {
  const first = await run(job(`docker build -t app:1 . && ${CHECK}`));
  expect(first.code, first.stderr).toBe(0);
  expect(first.stderr).toContain(`${VOLUME}: miss`);
  expect(first.stderr).toMatch(/Docker engine ready in .* DOCKER_HOST=unix:\/\//);
  expect(first.stderr).toMatch(/Docker engine stopped in/);
  expect(first.stderr).toMatch(new RegExp(`${VOLUME}: committed as v-`));
  expect(first.stdout).toContain(AS_BUILT);
  expect(first.stdout).not.toContain('Using cache');

  // Job 2: a fork of job 1's version. The build is cached step by step (COPY and both RUNs),
  // and the container still does not see the deleted file nor the replaced directory's file.
  const second = await run(job(`docker build -t app:1 . && ${CHECK}`));
  expect(second.code, second.stderr).toBe(0);
  expect(second.stderr).toContain(`${VOLUME}: hit`);
  expect(second.stdout.match(/Using cache/g)?.length).toBe(3);
  expect(second.stdout).toContain(AS_BUILT);

  // A failed job builds another image: its fork is abandoned with the daemon stopped first.
  const failed = await run(job('docker build -t failed:1 -f Dockerfile.failed . && exit 3'));
  expect(failed.code, failed.stderr).toBe(3);
  expect(failed.stderr).toMatch(/Docker engine stopped in/);
  expect(failed.stderr).toContain(`${VOLUME}: abandoned (exit code 3)`);

  const after = await run(job(`docker images --format '{{.Repository}}:{{.Tag}}' && ${CHECK}`));
  expect(after.code, after.stderr).toBe(0);
  expect(after.stdout).toContain('app:1');
  expect(after.stdout).not.toContain('failed:1');
  expect(after.stdout).toContain(AS_BUILT);
}

describeIfAvailable(dockerProblem, 'cachevol run --container-cache (dir backend)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let run: Run;
  let start: (args: string[]) => ReturnType<typeof spawnCachevol>;
  let root: string;

  beforeAll(async () => {
    ensureBuilt();
    ({ dir, cleanup } = await tempDir('containers'));
    root = join(dir, 'root');
    ({ run, start } = await workspace(dir, { CACHEVOL_ROOT: root }));
  });
  afterAll(async () => {
    // Nothing may be left running: a daemon the command did not stop fails the last test, and
    // is killed here by its pid in any case.
    await killDaemonsUnder(dir);
    await unmountUnder(dir);
    await cleanup?.();
  });

  it('builds, finds the build cached in job 2 with the deleted file still absent, and keeps no image of a failed job', async () => {
    await buildCachedDeletionKept(run);
  }, 240_000);

  it('refuses a copy that lost the whiteout or the opaque attribute, runs with an uncached engine, and leaves the head alone', async () => {
    const listed = JSON.parse((await run(['ls', '--json'])).stdout) as {
      volumes: { name: string; headId: string }[];
    };
    const head = listed.volumes.find((v) => v.name === `${SLUG}/container-cache`)?.headId as string;
    const upper = join(root, 'data', 'versions', head, 'overlay-check', 'upper');

    // A copy that drops extended attributes: the version's opaque directory loses its mark.
    await runTool('setfattr', ['-x', 'trusted.overlay.opaque', join(upper, 'opaque')]);
    const noXattr = await run(job('docker info --format "{{.Driver}}" && docker images -q | wc -l'));
    expect(noXattr.code, noXattr.stderr).toBe(0);
    expect(noXattr.stderr).toContain(`${VOLUME}: not cached this run`);
    expect(noXattr.stderr).toContain('lost extended attributes');
    expect(noXattr.stderr).toMatch(/Docker engine ready .*a temporary data root, uncached/);
    expect(noXattr.stdout).toBe('overlay2\n0\n'); // an engine, with none of the cached images
    expect(noXattr.stderr).not.toMatch(/committed as/);

    // A copy that drops device files: the whiteout becomes an ordinary file.
    await runTool('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(upper, 'opaque')]);
    await rm(join(upper, 'gone'));
    await writeFile(join(upper, 'gone'), '');
    const noDevice = await run(job('true'));
    expect(noDevice.code, noDevice.stderr).toBe(0);
    expect(noDevice.stderr).toContain('lost device files');

    const again = JSON.parse((await run(['ls', '--json'])).stdout) as {
      volumes: { name: string; headId: string }[];
    };
    expect(again.volumes.find((v) => v.name === `${SLUG}/container-cache`)?.headId).toBe(head);
    expect(await killDaemonsUnder(dir)).toBe(0);
  }, 120_000);

  it('on SIGTERM stops the engine, abandons the fork and exits 143, leaving no daemon', async () => {
    const child = start([
      'run',
      '--container-cache',
      'signals',
      '--',
      'sh',
      '-c',
      'docker info --format "{{.Driver}}" && exec sleep 60',
    ]);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ended = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('overlay2\n')) resolve();
      }),
    );
    child.kill('SIGTERM');
    expect(await ended, stderr).toBe(143);
    expect(stderr).toMatch(/default\/signals\/container-cache: Docker engine stopped in/);
    expect(stderr).toContain('default/signals/container-cache: abandoned (SIGTERM)');
    expect(await killDaemonsUnder(dir)).toBe(0);
  }, 120_000);

  it('refuses bad input before touching anything', async () => {
    const slug = await run(['run', '--container-cache', 'Bad Slug', '--', 'true']);
    expect(slug.code).toBe(2);
    expect(slug.stderr).toMatch(/INVALID_ARGUMENT: Invalid pipeline slug/);
    const dockerd = await run(['run', '--container-cache', SLUG, '--dockerd=-x', '--', 'true']);
    expect(dockerd.code).toBe(2);
    expect(dockerd.stderr).toMatch(/Invalid dockerd program "-x"/);
    const alone = await run(['run', '--dockerd', 'dockerd', '--', 'true']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--dockerd .* needs --container-cache/);
  });

  it('runs the job when dockerd cannot start at all, with a warning and no DOCKER_HOST', async () => {
    const result = await run([
      'run',
      '--container-cache',
      'nodaemon',
      '--dockerd',
      join(dir, 'no-such-dockerd'),
      '--',
      'sh',
      '-c',
      'test -n "$DOCKER_HOST" && echo "host=$DOCKER_HOST" || echo host=none',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('host=none\n');
    expect(result.stderr).toContain('default/nodaemon/container-cache: not cached this run');
    expect(result.stderr).toContain('the job runs without it');
    expect(result.stderr).toMatch(/no-such-dockerd was not found: install Docker/);
  });
});

describeIfAvailable(dockerProblem, 'attachContainerCache (the SDK, dir backend)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let work: string;
  let volumes: CacheVolumes;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('containers-sdk'));
    ({ work } = await workspace(dir, {}));
    volumes = new CacheVolumes({
      backend: createDirBackend({ root: join(dir, 'volumes') }),
      store: createMemoryStore(),
    });
  });
  afterAll(async () => {
    await killDaemonsUnder(dir);
    await unmountUnder(dir);
    await cleanup?.();
  });

  const docker = async (cache: ContainerCache, args: string[]) =>
    (
      await promisify(execFile)('docker', args, {
        cwd: work,
        env: {
          ...process.env,
          ...cache.env,
          DOCKER_BUILDKIT: '0',
          DOCKER_CONFIG: join(dir, 'docker-config'),
        },
      })
    ).stdout;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const options = { pipelineSlug: 'sdk', attach: { scope: 'sdk', job: 'sdk-1' } };

  it('runs an engine on the fork, stops it before the commit, and the next fork has the image as built', async () => {
    const first = await attachContainerCache(volumes, options);
    expect(first.fork?.result).toBe('miss');
    expect(first.problem).toBeNull();
    expect(first.env.DOCKER_HOST).toMatch(/^unix:\/\/.*docker\.sock$/);
    expect(first.engine.dataRoot).toBe(join(first.fork?.mountPath ?? '', 'docker'));
    await docker(first, ['build', '-q', '-t', 'app:1', '.']);
    const { outcome, stop } = await first.finish(0);
    expect(stop.clean).toBe(true);
    expect(alive(first.engine.pid)).toBe(false);
    expect(outcome?.action).toBe('committed');

    const second = await attachContainerCache(volumes, options);
    expect(second.fork?.result).toBe('hit');
    expect(
      await docker(second, [
        'run',
        '--rm',
        '--network',
        'none',
        'app:1',
        '/bin/busybox',
        'sh',
        '-c',
        CHECK_SCRIPT,
      ]),
    ).toBe(AS_BUILT);
    await docker(second, ['build', '-q', '-t', 'failed:1', '-f', 'Dockerfile.failed', '.']);
    expect((await second.abandon()).clean).toBe(true);
    expect(alive(second.engine.pid)).toBe(false);

    const third = await attachContainerCache(volumes, options);
    expect(third.fork?.baseVersionId).toBe(outcome?.version?.id);
    expect(await docker(third, ['images', '--format', '{{.Repository}}'])).toBe('app\n');
    expect((await third.finish(1)).outcome?.action).toBe('abandoned');
  }, 180_000);

  it('startDockerEngine leaves a mount of the caller at its data root mounted, and removes its run-time directory', async () => {
    const dataRoot = join(dir, 'tmpfs-root');
    await mkdir(dataRoot);
    await runTool('mount', ['-t', 'tmpfs', 'tmpfs', dataRoot]);
    try {
      const engine = await startDockerEngine({ dataRoot });
      const runDir = join(engine.logFile, '..');
      expect(existsSync(runDir)).toBe(true);
      expect((await engine.stop()).clean).toBe(true);
      expect(existsSync(runDir)).toBe(false);
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      expect(mounts.split('\n').some((line) => line.split(' ')[1] === dataRoot)).toBe(true);
    } finally {
      await runTool('umount', [dataRoot]);
    }
  }, 120_000);

  it('fails with strict, and without any engine to start, leaving no fork attached', async () => {
    const missing = { ...options, dockerd: join(dir, 'no-such-dockerd') };
    await expect(attachContainerCache(volumes, { ...missing, strict: true })).rejects.toThrow(
      /was not found: install Docker/,
    );
    await expect(attachContainerCache(volumes, missing)).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    });
    expect(await volumes.forks()).toEqual([]);
  });
});

describeIfAvailable(
  () => dockerProblem() ?? unavailable('btrfs'),
  'cachevol run --container-cache (btrfs backend, loopback btrfs)',
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let fs: LoopBtrfs | undefined;
    let run: Run;

    beforeAll(async () => {
      ensureBuilt(['backend-btrfs']);
      ({ dir, cleanup } = await tempDir('containers-btrfs'));
      fs = await createLoopBtrfs({ prefix: 'cachevol-test-containers-btrfs-', sizeBytes: 1024 * 2 ** 20 });
      ({ run } = await workspace(dir, { CACHEVOL_ROOT: join(fs.mountPoint, 'cachevol') }, [
        '--backend',
        'btrfs',
      ]));
    });
    afterAll(async () => {
      for (const place of [dir, fs?.dir]) if (place) await killDaemonsUnder(place);
      if (fs) await unmountUnder(fs.mountPoint);
      await fs?.destroy();
      await cleanup?.();
    });

    it('builds, finds the build cached in job 2 with the deleted file still absent, and keeps no image of a failed job', async () => {
      await buildCachedDeletionKept(run);
      expect(await killDaemonsUnder(dir)).toBe(0);
    }, 300_000);
  },
);

describeIfAvailable(
  () => dockerProblem() ?? unavailable('zfs'),
  'cachevol run --container-cache (zfs backend, file-backed pool)',
  () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let pool: FilePool | undefined;
    let run: Run;
    let fuse: boolean;

    beforeAll(async () => {
      ensureBuilt(['backend-zfs']);
      ({ dir, cleanup } = await tempDir('containers-zfs'));
      pool = await createFilePool({ prefix: 'cachevol-test-containers-', sizeMiB: 256 });
      await runTool('zfs', ['create', `${pool.name}/cv`]);
      // zfs-fuse mounts its datasets as FUSE; OpenZFS as zfs.
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      fuse = mounts.split('\n').some((line) => line.startsWith(`${pool?.name}/cv `) && / fuse/.test(line));
      ({ run } = await workspace(dir, { CACHEVOL_ROOT: join(dir, 'root') }, [
        '--backend',
        'zfs',
        '--dataset',
        `${pool.name}/cv`,
      ]));
    });
    afterAll(async () => {
      for (const place of [dir, pool?.dir]) if (place) await killDaemonsUnder(place);
      if (pool) await unmountUnder(pool.dir);
      await pool?.destroy();
      await cleanup?.();
    });

    it('on zfs-fuse refuses with the reason and runs the job with an uncached engine; on OpenZFS caches like btrfs', async () => {
      if (!fuse) {
        await buildCachedDeletionKept(run);
        return;
      }
      const result = await run(job('docker info --format "{{.Driver}}"'));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`${VOLUME}: not cached this run`);
      expect(result.stderr).toMatch(
        /on a FUSE filesystem \(zfs-fuse among them\), where Docker's overlay2 cannot keep its layers/,
      );
      expect(result.stderr).toMatch(/a temporary data root, uncached/);
      expect(result.stdout).toBe('overlay2\n');
      expect(await killDaemonsUnder(dir)).toBe(0);
    }, 300_000);
  },
);
