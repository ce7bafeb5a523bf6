import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirBackend } from '@cachevol/backend-dir';
import { createMemoryBackend } from '@cachevol/backend-memory';
import { CacheVolumes, createMemoryStore, headOf } from '@cachevol/core';
import { readAllSlices } from '@cachevol/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachVolumes, type JobPlace, type JobVolume, runJob } from '../src/internal/job.js';
import { Output } from '../src/internal/output.js';
import { tempDir } from './helpers/cli.js';

function capture() {
  let err = '';
  const io = {
    stdout: { write: () => true },
    stderr: {
      write: (t: string) => {
        err += t;
        return true;
      },
    },
    env: {},
    cwd: '/',
  };
  return { out: new Output(io), stderr: () => err };
}

const node = (code: string) => ({ file: process.execPath, args: ['-e', code] });

describe('runJob on the memory backend (no paths)', () => {
  const volumes: JobVolume[] = [{ name: 'deps', scope: 's', paths: [], commit: 'on-success' }];
  const place: JobPlace = {
    workdir: process.cwd(),
    instanceRoot: '/',
    os: 'linux',
    replace: false,
    job: 't',
  };
  const engine = () =>
    new CacheVolumes({ backend: createMemoryBackend(), store: createMemoryStore(), host: 'h' });

  it('commits on exit 0 and the next attach is a hit', async () => {
    const volumesEngine = engine();
    const { out, stderr } = capture();
    const first = await runJob(volumesEngine, volumes, place, [node('')], out);
    expect(first).toMatchObject({
      exitCode: 0,
      signal: null,
      volumes: [{ result: 'miss', action: 'committed' }],
    });
    const second = await runJob(volumesEngine, volumes, place, [node('')], out);
    expect(second.volumes[0]).toMatchObject({ result: 'hit', baseVersionId: first.volumes[0]?.versionId });
    expect(stderr()).toMatch(/s\/deps: miss, attached in (?:\d+ ms|\d+\.\d\d s)/);
  });

  it('passes a failing exit code through, abandons, and leaves the head alone', async () => {
    const volumesEngine = engine();
    const { out } = capture();
    const good = await runJob(volumesEngine, volumes, place, [node('')], out);
    const bad = await runJob(volumesEngine, volumes, place, [node('process.exit(3)')], out);
    expect(bad).toMatchObject({
      exitCode: 3,
      volumes: [{ result: 'hit', action: 'abandoned', versionId: null }],
    });
    const [slice] = await readAllSlices(volumesEngine.store);
    expect(headOf(slice?.volume ?? undefined)?.id).toBe(good.volumes[0]?.versionId);
    expect(await volumesEngine.forks()).toEqual([]);
  });

  it('stops at the first failing command, and reports 127 for a missing program', async () => {
    const { out, stderr } = capture();
    const ran = await runJob(
      engine(),
      volumes,
      place,
      [node('process.exit(5)'), node('process.exit(0)')],
      out,
    );
    expect(ran.exitCode).toBe(5);
    const missing = await runJob(
      engine(),
      volumes,
      place,
      [{ file: 'cachevol-no-such-program', args: [] }],
      out,
    );
    expect(missing).toMatchObject({ exitCode: 127, volumes: [{ action: 'abandoned' }] });
    expect(stderr()).toContain('cannot run cachevol-no-such-program: command not found');
  });

  it('tells the command its fork and attach result', async () => {
    const { out } = capture();
    const check = node(
      'process.exit(process.env.CACHEVOL_RESULT === "miss" && /^f-/.test(process.env.CACHEVOL_FORK_ID) ? 0 : 9)',
    );
    expect((await runJob(engine(), volumes, place, [check], out)).exitCode).toBe(0);
  });
});

describe('runJob on the dir backend with linked paths', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('job'));
  });
  afterEach(() => cleanup());

  it('links each path into the working directory, keeps what a good job wrote, and unlinks after', async () => {
    const volumesEngine = new CacheVolumes({
      backend: createDirBackend({ root: join(dir, 'data') }),
      store: createMemoryStore(),
      host: 'h',
    });
    const { out } = capture();
    const workdir = join(dir, 'work');
    const place: JobPlace = {
      workdir,
      instanceRoot: join(dir, 'instance'),
      os: 'linux',
      replace: false,
      job: 't',
    };
    const volumes: JobVolume[] = [
      { name: 'deps', scope: 's', paths: ['out', '/opt/tool'], commit: 'on-success' },
    ];
    await mkdir(workdir);
    await mkdir(place.instanceRoot);
    const write = node(
      `const fs = require('fs'); fs.writeFileSync('out/a', 'A'); fs.writeFileSync(${JSON.stringify(join(dir, 'instance/opt/tool/b'))}, 'B')`,
    );
    await require0(await runJob(volumesEngine, volumes, place, [{ ...write, args: write.args }], out));
    const read = node(
      `const fs = require('fs'); fs.writeFileSync('seen-a', fs.readFileSync('out/a')); fs.writeFileSync('seen', fs.readFileSync(${JSON.stringify(join(dir, 'instance/opt/tool/b'))}))`,
    );
    const second = await runJob(volumesEngine, volumes, place, [read], out);
    expect(second).toMatchObject({ exitCode: 0, volumes: [{ result: 'hit', action: 'committed' }] });
    expect(await readFile(join(workdir, 'seen'), 'utf8')).toBe('B');
    expect(await readFile(join(workdir, 'seen-a'), 'utf8')).toBe('A');
    expect(second.volumes[0]?.links.map((l) => l.linkPath)).toEqual([
      join(workdir, 'out'),
      join(dir, 'instance/opt/tool'),
    ]);
    await expect(readFile(join(workdir, 'out/a'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('attachVolumes when a link is refused', () => {
  it('removes the links already made and abandons the fork', async () => {
    const { dir, cleanup } = await tempDir('job-refused');
    try {
      const volumesEngine = new CacheVolumes({
        backend: createDirBackend({ root: join(dir, 'data') }),
        store: createMemoryStore(),
        host: 'h',
      });
      const workdir = join(dir, 'work');
      await mkdir(join(workdir, 'b'), { recursive: true });
      await writeFile(join(workdir, 'b', 'mine'), 'x');
      const place: JobPlace = { workdir, instanceRoot: dir, os: 'linux', replace: false, job: 't' };
      const volumes: JobVolume[] = [{ name: 'deps', scope: 's', paths: ['a', 'b'], commit: 'on-success' }];
      await expect(attachVolumes(volumesEngine, volumes, place, capture().out)).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
      expect(existsSync(join(workdir, 'a'))).toBe(false);
      expect(await readFile(join(workdir, 'b', 'mine'), 'utf8')).toBe('x');
      expect(await volumesEngine.forks()).toEqual([]);
      expect(await volumesEngine.backend.list()).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});

describe('runJob: the linking defects of issue 12 (regressions)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let workdir: string;
  let place: JobPlace;
  let volumesEngine: CacheVolumes;
  const volumes: JobVolume[] = [{ name: 'deps', scope: 's', paths: ['c'], commit: 'on-success' }];
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('job-issue12'));
    workdir = join(dir, 'work');
    await mkdir(workdir);
    place = { workdir, instanceRoot: dir, os: 'linux', replace: false, job: 't', linkMethod: 'symlink' };
    volumesEngine = new CacheVolumes({
      backend: createDirBackend({ root: join(dir, 'data') }),
      store: createMemoryStore(),
      host: 'h',
    });
  });
  afterEach(() => cleanup());

  it('a tool that replaces the symlink by a directory has it committed, and the next run works', async () => {
    const { out, stderr } = capture();
    const npmLike = node(
      "const fs = require('fs'); fs.rmSync('c'); fs.mkdirSync('c'); fs.writeFileSync('c/installed', 'yes')",
    );
    await require0(await runJob(volumesEngine, volumes, place, [npmLike], out));
    expect(stderr()).toMatch(/captured .*\/c into the fork/);
    const check = node("process.exit(require('fs').readFileSync('c/installed', 'utf8') === 'yes' ? 0 : 7)");
    const second = await runJob(volumesEngine, volumes, place, [check], out);
    expect(second).toMatchObject({ exitCode: 0, volumes: [{ result: 'hit', action: 'committed' }] });
  });

  it('a committed version whose cache directory is a symlink sends no write out of the fork', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const { out } = capture();
    await require0(
      await runJob(volumesEngine, volumes, place, [node("require('fs').writeFileSync('c/v', '1')")], out),
    );
    const [version] = await readdir(join(dir, 'data', 'versions'));
    const data = join(dir, 'data', 'versions', version as string);
    await rm(join(data, 'c'), { recursive: true });
    await symlink(outside, join(data, 'c'));
    const write = node("require('fs').writeFileSync('c/escaped', 'x')");
    for (const linkMethod of ['symlink', 'auto'] as const)
      await require0(await runJob(volumesEngine, volumes, { ...place, linkMethod }, [write], out));
    expect(await readdir(outside)).toEqual([]);
  });

  it('a dangling symlink in a committed version does not wedge the volume', async () => {
    const { out } = capture();
    await require0(
      await runJob(volumesEngine, volumes, place, [node("require('fs').writeFileSync('c/v', '1')")], out),
    );
    const [version] = await readdir(join(dir, 'data', 'versions'));
    const data = join(dir, 'data', 'versions', version as string);
    await rm(join(data, 'c'), { recursive: true });
    await symlink(join(dir, 'no-such-dir'), join(data, 'c'));
    const write = node("require('fs').writeFileSync('c/v', '2')");
    const next = await runJob(volumesEngine, volumes, place, [write], out);
    expect(next).toMatchObject({ exitCode: 0, volumes: [{ result: 'hit', action: 'committed' }] });
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });

  it('a second job in the same working directory does not take the link of the first', async () => {
    const { out } = capture();
    const first = runJob(
      volumesEngine,
      volumes,
      place,
      [
        node(
          "const fs = require('fs'); fs.writeFileSync('c/v', 'first'); fs.writeFileSync('ready', ''); const t = setInterval(() => { if (fs.existsSync('go')) { clearInterval(t); process.exit(fs.readFileSync('c/v', 'utf8') === 'first' ? 0 : 9) } }, 20)",
        ),
      ],
      out,
    );
    while (!existsSync(join(workdir, 'ready'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const second = runJob(
      volumesEngine,
      volumes,
      place,
      [node("require('fs').writeFileSync('c/v', 'second')")],
      out,
    );
    await expect(second).rejects.toMatchObject({ code: 'CONFLICT' });
    await writeFile(join(workdir, 'go'), '');
    expect((await first).exitCode).toBe(0);
  });
});

async function require0(report: { exitCode: number }) {
  expect(report.exitCode).toBe(0);
}
