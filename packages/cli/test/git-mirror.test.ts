import { existsSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyPacks } from '@cachevol/core/git-mirror';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test-support/gate.js';
import {
  addCommits,
  type Daemon,
  freePort,
  git,
  makeRepository,
  startDaemon,
} from '../../../test-support/git-fixture.mjs';
import { cachevol, ensureBuilt, tempDir } from './helpers/cli.js';

/**
 * `cachevol git-checkout` (issue 16): a repository generated here, served by `git daemon` on
 * 127.0.0.1, checked out through its git mirror volume on the dir backend, by the built CLI.
 */

interface Checkout {
  commit: string;
  directory: string;
  method: 'mirror' | 'plain-clone';
  mirror: {
    result: string | null;
    action: string;
    outcome: string;
    versionId: string | null;
    forkId: string | null;
  };
  warnings: string[];
}

/** Every file under `dir` whose name ends with `suffix`. */
async function filesEnding(dir: string, suffix: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile() && entry.name.endsWith(suffix)) found.push(join(entry.parentPath, entry.name));
  return found;
}

describeWith('git-daemon', 'cachevol git-checkout against a repository served by git daemon', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let daemon: Daemon;
  let url: string;
  let server: string;
  let commits: string[];
  let count = 0;

  beforeAll(async () => {
    ensureBuilt();
    ({ dir, cleanup } = await tempDir('git-mirror'));
    server = join(dir, 'server', 'acme', 'widgets.git');
    commits = await makeRepository(server, { commits: 12, files: 1500, changes: 40 });
    daemon = await startDaemon(join(dir, 'server'));
    url = daemon.url('acme/widgets.git');
  }, 300_000);
  afterAll(async () => {
    await daemon?.stop();
    await cleanup?.();
  });

  /** `cachevol git-checkout --json` into a new directory; its result, exit code and stderr. */
  async function checkout(root: string, args: string[], target = join(dir, `co-${++count}`)) {
    const run = await cachevol(['git-checkout', url, target, '--root', root, '--json', ...args], {
      cwd: dir,
    });
    const result = run.code === 0 ? (JSON.parse(run.stdout) as Checkout) : null;
    return { ...run, result, target };
  }

  /** The working tree is at `commit`, complete, and owns every object it needs. */
  function expectSound(target: string, commit: string) {
    expect(git(['-C', target, 'rev-parse', 'HEAD'])).toBe(commit);
    expect(existsSync(join(target, '.git', 'objects', 'info', 'alternates'))).toBe(false);
    git(['-C', target, 'fsck', '--full', '--no-dangling']);
    expect(git(['-C', target, 'status', '--porcelain'])).toBe('');
    expect(git(['-C', target, 'remote', 'get-url', 'origin'])).toBe(url);
  }

  it('a miss clones the mirror and commits it; a hit that has the commit fetches nothing', async () => {
    const root = join(dir, 'root-basic');
    const first = await checkout(root, ['--ref', 'main']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.result).toMatchObject({ method: 'mirror', commit: commits.at(-1) });
    expect(first.result?.mirror).toMatchObject({ result: 'miss', action: 'cloned', outcome: 'committed' });
    expect(first.stderr).toMatch(/git mirror default\/buildkite-git-mirror-acme-widgets: miss/);
    expectSound(first.target, commits.at(-1) as string);

    const second = await checkout(root, ['--commit', commits[5] as string]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.result?.mirror).toMatchObject({
      result: 'hit',
      action: 'up-to-date',
      outcome: 'unchanged',
    });
    expectSound(second.target, commits[5] as string);

    const third = await checkout(root, ['--ref', 'main']);
    expect(third.result?.mirror).toMatchObject({
      result: 'hit',
      action: 'fetched-nothing',
      outcome: 'unchanged',
    });
  });

  it('a hit fetches only new commits, and commits the mirror with them', async () => {
    const root = join(dir, 'root-fetch');
    const first = await checkout(root, ['--ref', 'main']);
    expect(first.code, first.stderr).toBe(0);
    const added = await addCommits(server, { commits: 3, files: 1500, changes: 40, seed: 'more' });
    const next = await checkout(root, ['--commit', added.at(-1) as string, '--ref', 'main']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.result?.mirror).toMatchObject({ result: 'hit', action: 'fetched', outcome: 'committed' });
    expectSound(next.target, added.at(-1) as string);
    commits = [...commits, ...added];
    const again = await checkout(root, ['--commit', added.at(-1) as string]);
    expect(again.result?.mirror).toMatchObject({ action: 'up-to-date', outcome: 'unchanged' });
  });

  it('two jobs at once both check out, each from its own fork', async () => {
    const root = join(dir, 'root-two');
    const seeded = await checkout(root, ['--ref', 'main']);
    expect(seeded.code, seeded.stderr).toBe(0);
    const [a, b] = await Promise.all([
      checkout(root, ['--commit', commits[3] as string, '--job', 'job-a']),
      checkout(root, ['--commit', commits[4] as string, '--ref', 'main', '--job', 'job-b']),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.result?.mirror.forkId).not.toBe(b.result?.mirror.forkId);
    expect(a.result?.method).toBe('mirror');
    expect(b.result?.method).toBe('mirror');
    expectSound(a.target, commits[3] as string);
    expectSound(b.target, commits[4] as string);
    // Two misses at once, too: both clone a mirror; the last commit wins.
    const fresh = join(dir, 'root-two-misses');
    // The root's state database is made first, by a checkout through another volume: two
    // processes that open a root's new SQLite database at the same moment can meet SQLITE_BUSY
    // (one then runs without the cache, with a warning), which is the store's matter, not this.
    const other = await checkout(fresh, ['--ref', 'main', '--name', 'another-mirror']);
    expect(other.code, other.stderr).toBe(0);
    const [c, d] = await Promise.all([
      checkout(fresh, ['--ref', 'main']),
      checkout(fresh, ['--ref', 'main']),
    ]);
    expect([c.code, d.code], c.stderr + d.stderr).toEqual([0, 0]);
    expect([c.result?.mirror.action, d.result?.mirror.action], c.stderr + d.stderr).toEqual([
      'cloned',
      'cloned',
    ]);
  });

  it('a checkout still works after its fork is committed and every version is removed', async () => {
    const root = join(dir, 'root-gone');
    const first = await checkout(root, ['--ref', 'main']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.result?.mirror.outcome).toBe('committed');
    const rm = await cachevol(['rm', 'buildkite-git-mirror-acme-widgets', '--root', root], { cwd: dir });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await filesEnding(root, '.pack')).toEqual([]); // nothing of the mirror is left anywhere
    expectSound(first.target, commits.at(-1) as string);
    git(['-C', first.target, 'log', '--oneline', '-3']);
  });

  it('a broken mirror falls back to a plain clone with a warning, and the next job clones the mirror afresh', async () => {
    const root = join(dir, 'root-broken');
    const first = await checkout(root, ['--ref', 'main']);
    expect(first.code, first.stderr).toBe(0);
    const packs = await filesEnding(root, '.pack');
    expect(packs.length).toBeGreaterThan(0);
    for (const pack of packs) {
      const { size } = await stat(pack);
      const file = await open(pack, 'r+');
      await file.write(
        Buffer.alloc(Math.floor(size / 2), 0x5a),
        0,
        Math.floor(size / 2),
        Math.floor(size / 4),
      );
      await file.close();
    }
    const broken = await checkout(root, ['--commit', commits[2] as string]);
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stderr).toMatch(/warning: git mirror .*falling back to a plain clone/);
    expect(broken.result).toMatchObject({ method: 'plain-clone' });
    expect(broken.result?.mirror).toMatchObject({ result: 'hit', action: 'failed', outcome: 'cleared' });
    expect(broken.result?.warnings.length).toBeGreaterThan(0);
    expectSound(broken.target, commits[2] as string);

    const healed = await checkout(root, ['--commit', commits[2] as string]);
    expect(healed.code, healed.stderr).toBe(0);
    expect(healed.result).toMatchObject({ method: 'mirror', warnings: [] });
    expect(healed.result?.mirror).toMatchObject({ result: 'hit', action: 'cloned', outcome: 'committed' });
    expectSound(healed.target, commits[2] as string);
  });

  it('verifyPacks finds one flipped byte in a pack or an index, whatever object it is in', async () => {
    const mirror = join(dir, 'verify.git');
    git(['clone', '--quiet', '--mirror', '--', server, mirror]);
    await verifyPacks(mirror);
    for (const suffix of ['.pack', '.idx']) {
      const [file] = await filesEnding(join(mirror, 'objects', 'pack'), suffix);
      const handle = await open(file as string, 'r+');
      const { size } = await handle.stat();
      const at = Math.floor(size * 0.9);
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      await handle.write(Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, at);
      await expect(verifyPacks(mirror)).rejects.toThrow(`${suffix} does not match its checksum`);
      await handle.write(byte, 0, 1, at);
      await handle.close();
      await verifyPacks(mirror);
    }
  });

  it("an unreachable repository fails clearly, as the repository's failure, and changes no version", async () => {
    const root = join(dir, 'root-unreachable');
    const seeded = await checkout(root, ['--ref', 'main']);
    expect(seeded.code, seeded.stderr).toBe(0);
    const port = await freePort(); // nothing listens there
    const target = join(dir, 'co-unreachable');
    const run = await cachevol(
      [
        'git-checkout',
        `git://127.0.0.1:${port}/acme/widgets.git`,
        target,
        '--root',
        root,
        '--name',
        'buildkite-git-mirror-acme-widgets',
        '--ref',
        'main',
      ],
      { cwd: dir },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /cachevol: NOT_FOUND: Could not check out git:\/\/127\.0\.0\.1:\d+\/acme\/widgets\.git at main: .*repository's failure, not the cache's/,
    );
    expect(existsSync(target)).toBe(false);
    const next = await checkout(root, ['--commit', commits.at(-1) as string]);
    expect(next.result?.mirror).toMatchObject({ result: 'hit', action: 'up-to-date' }); // the mirror is intact
  });

  it('a commit the repository does not have is an error, and the mirror is kept', async () => {
    const root = join(dir, 'root-missing-commit');
    const seeded = await checkout(root, ['--ref', 'main']);
    expect(seeded.code, seeded.stderr).toBe(0);
    const run = await checkout(root, ['--commit', 'deadbeef'.repeat(5)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/NOT_FOUND/);
  });

  it.each([
    [['ext::sh -c touch% /tmp/gitmirror-pwned', 'x'], /Invalid repository URL/],
    [['git://127.0.0.1/x.git', 'x', '--commit', 'not-a-sha'], /Invalid commit/],
    [['git://127.0.0.1/x.git', 'x', '--ref', 'a..b'], /Invalid ref/],
    [['git://127.0.0.1/x.git', 'x', '--ref=-upload-pack=touch'], /Invalid ref/],
    [['git://127.0.0.1/x.git'], /DIR/],
  ])('bad input %j exits 2 without running git', async (args, pattern) => {
    const run = await cachevol(['git-checkout', ...args, '--root', join(dir, 'root-bad')], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(pattern);
    expect(existsSync('/tmp/gitmirror-pwned')).toBe(false);
  });

  it('a directory that is not empty is refused before anything is attached', async () => {
    const run = await cachevol(['git-checkout', url, dir, '--root', join(dir, 'root-busy')], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ALREADY_EXISTS: Checkout directory .* is not an empty directory/);
  });
});
