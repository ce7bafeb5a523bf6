/**
 * A git repository made locally for the git mirror tests and benchmark (no network): a bare
 * repository written by `git fast-import` from generated files, served by `git daemon` on
 * 127.0.0.1. Plain JavaScript so that the benchmark (`bench/src/*.mjs`) and the tests share it;
 * its types are in git-fixture.d.mts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer } from 'node:net';

const ENV = { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
const AUTHOR = 'cachevol tests <tests@cachevol.invalid>';

/** Runs git with an argument array; throws with its stderr when it fails. */
export function git(args, options = {}) {
  const result = spawnSync('git', args, { env: ENV, encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  if (result.status !== 0)
    throw new Error(
      `git ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.error}`,
    );
  return result.stdout.trim();
}

/** Deterministic text of `bytes` bytes for one file at one version. */
function content(seed, bytes) {
  const parts = [];
  let block = createHash('sha256').update(seed).digest('hex');
  for (let size = 0; size < bytes; size += block.length + 1) {
    parts.push(block);
    block = createHash('sha256').update(block).digest('hex');
  }
  return `${parts.join('\n')}\n`.slice(0, bytes);
}

function pathOf(i) {
  return `src/m${String(i % 50).padStart(2, '0')}/d${String(Math.floor(i / 50) % 20).padStart(2, '0')}/f${i}.txt`;
}

/** Feeds a fast-import stream to git in `dir` (a bare repository). */
function fastImport(dir, write) {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', dir, 'fast-import', '--quiet'], {
      env: ENV,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`git fast-import failed: ${stderr}`)),
    );
    const out = child.stdin;
    const data = (text) => {
      const buffer = Buffer.from(text);
      out.write(`data ${buffer.length}\n`);
      out.write(buffer);
      out.write('\n');
    };
    write({ raw: (text) => out.write(text), data });
    out.end();
  });
}

/**
 * Adds `commits` commits to `branch` of the bare repository at `dir`: the first (when the
 * branch is new) writes `files` files, each later one rewrites `changes` of them.
 *
 * @returns the new commits' ids, oldest first
 */
export async function addCommits(
  dir,
  { commits, files, changes, fileBytes = 2048, branch = 'main', seed = 'repo' },
) {
  const ref = `refs/heads/${branch}`;
  const before = spawnSync('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', ref], {
    env: ENV,
    encoding: 'utf8',
  });
  const parent = before.status === 0 ? before.stdout.trim() : null;
  const start = parent ? Number(git(['-C', dir, 'rev-list', '--count', ref])) : 0;
  await fastImport(dir, ({ raw, data }) => {
    for (let c = 0; c < commits; c++) {
      const n = start + c;
      raw(`commit ${ref}\nmark :${c + 1}\ncommitter ${AUTHOR} ${1_700_000_000 + n * 60} +0000\n`);
      data(`commit ${n}`);
      if (c === 0 && parent) raw(`from ${parent}\n`);
      const touched =
        n === 0
          ? Array.from({ length: files }, (_, i) => i)
          : Array.from({ length: changes }, (_, k) => (n * 7919 + k * 104729) % files);
      for (const i of touched) {
        raw(`M 100644 inline ${pathOf(i)}\n`);
        data(content(`${seed}/${i}/${n}`, fileBytes));
      }
      raw('\n');
    }
  });
  return git(['-C', dir, 'rev-list', '--reverse', `${parent ? `${parent}..` : ''}${ref}`]).split('\n');
}

/**
 * Makes a bare repository at `dir` with `commits` commits on `main` (see {@link addCommits}),
 * packed as a server would hold it.
 *
 * @returns its commits' ids, oldest first
 */
export async function makeRepository(dir, options) {
  git(['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  const ids = await addCommits(dir, options);
  git(['-C', dir, 'repack', '-a', '-d', '-q']);
  return ids;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `git daemon` serving every repository under `base` on 127.0.0.1 and a free port.
 *
 * @returns `url(name)` of a repository, the port, and `stop()` (waits for the daemon to end)
 */
export async function startDaemon(base) {
  const port = await freePort();
  const args = [
    'daemon',
    '--export-all',
    '--reuseaddr',
    '--informative-errors',
    `--base-path=${base}`,
    '--listen=127.0.0.1',
    `--port=${port}`,
    base,
  ];
  const child = spawn('git', args, { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; !(await accepts(port)); i++) {
    if (child.exitCode !== null || i > 200) {
      child.kill('SIGTERM');
      throw new Error(`git daemon did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: (name) => `git://127.0.0.1:${port}/${name}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
