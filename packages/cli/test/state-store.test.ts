import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, sandbox as sandboxIn, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('state'));
});
afterAll(() => cleanup());

const sandbox = (name: string) => sandboxIn(base, name);

/** A node one-liner that prints what `deps/lock.txt` holds, then writes `value` there and exits with `code`. */
const job = (value: string, code = 0) => [
  process.execPath,
  '-e',
  `const fs = require('fs'); const f = 'deps/lock.txt'; fs.mkdirSync('deps', { recursive: true }); console.log('saw ' + (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : 'none')); fs.writeFileSync(f, ${JSON.stringify(value)}); process.exit(${code})`,
];

async function versionsOnDisk(root: string): Promise<string[]> {
  return (await readdir(join(root, 'data', 'versions')).catch(() => [] as string[])).sort();
}

describe('the CLI state database', () => {
  it('keeps the state in ROOT/state.db', async () => {
    const { root, run } = await sandbox('db');
    const first = await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('one')]);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(root, 'state.db'))).toBe(true);
    expect(existsSync(join(root, 'state.json'))).toBe(false);
    const second = await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('two')]);
    expect(second.stdout).toContain('saw one');
    expect(second.stderr).toContain('hit');
  });

  it('refuses a lost database next to existing data: run goes on uncached, gc deletes nothing until --force', async () => {
    const { root, work, run } = await sandbox('lost');
    expect((await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('one')])).code).toBe(0);
    const kept = await versionsOnDisk(root);
    expect(kept).toHaveLength(1);
    for (const suffix of ['', '-wal', '-shm']) await rm(join(root, `state.db${suffix}`), { force: true });

    // The job still runs, with its own exit code, and says why the cache is off.
    const uncached = await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('two', 3)]);
    expect(uncached.code).toBe(3);
    expect(uncached.stdout).toContain('saw none');
    expect(uncached.stderr).toMatch(/running without the cache: .*records no volumes.*1 version/);
    expect(await versionsOnDisk(root)).toEqual(kept);
    await rm(join(work, 'deps'), { recursive: true }); // what the uncached job wrote in place

    // Housekeeping refuses rather than deleting what it cannot account for.
    for (const command of [['gc'], ['ls'], ['stats'], ['reconcile']]) {
      const refused = await run(command);
      expect(refused.code, command.join(' ')).toBe(1);
      expect(refused.stderr).toContain('STORE_FAILED');
      expect(refused.stderr).toContain('gc --force');
    }
    expect(await versionsOnDisk(root)).toEqual(kept);

    // --force is the explicit way out: the data goes, and the root works again from empty.
    const forced = await run(['gc', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout).leftovers).toEqual([{ kind: 'version', id: kept[0] }]);
    expect(await versionsOnDisk(root)).toEqual([]);
    const fresh = await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('three')]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('saw none');
  });

  it('imports the first release’s state.json once and keeps it as state.json.imported', async () => {
    const { root, run } = await sandbox('import');
    // A root exactly as cachevol's first release left it after one committed run (dir backend).
    const now = Date.now();
    const versionId = 'v-mx4h0ibl-3cc42eb3e63e';
    const forkId = 'f-mx4h0i42-e9266745932c';
    for (const dir of ['bases', 'tmp', 'forks', 'trash', `versions/${versionId}/deps`])
      await mkdir(join(root, 'data', dir), { recursive: true });
    await writeFile(join(root, 'data', 'versions', versionId, 'deps', 'lock.txt'), 'from the first release');
    await writeFile(join(root, 'cachevol.json'), '{"backend":"dir"}\n');
    const legacy = {
      schema: 1,
      volumes: {
        'default\u0000deps': {
          scope: 'default',
          name: 'deps',
          seq: 1,
          versions: {
            [versionId]: {
              id: versionId,
              seq: 1,
              baseId: null,
              usedBytes: 22,
              committedAt: now - 60_000,
              lastUsedAt: now - 60_000,
              hosts: [hostname()],
              state: 'committed',
            },
          },
          versionIds: [versionId],
          counts: { hit: 0, stale: 0, miss: 1 },
          lastUsedAt: now - 60_000,
        },
      },
      forks: {
        [forkId]: {
          id: forkId,
          scope: 'default',
          name: 'deps',
          baseId: null,
          result: 'miss',
          requestedBytes: 21474836480,
          capacityBytes: 21474836480,
          host: hostname(),
          job: 'cli-13505',
          commitMode: 'on-success',
          createdAt: now - 61_000,
          expiresAt: now + 7_000_000,
          mountPath: join(root, 'data', 'forks', forkId),
          state: 'committed',
          versionId,
          endedAt: now - 60_000,
        },
      },
    };
    const text = `${JSON.stringify(legacy)}\n`;
    await writeFile(join(root, 'state.json'), text);

    const listed = await run(['ls', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const { volumes } = JSON.parse(listed.stdout) as { volumes: { name: string; headId: string }[] };
    expect(volumes.map((v) => [v.name, v.headId])).toEqual([['deps', versionId]]);
    expect(existsSync(join(root, 'state.json'))).toBe(false);
    expect(await readFile(join(root, 'state.json.imported'), 'utf8')).toBe(text);

    const next = await run(['run', '--cache', 'deps', '--name', 'deps', '--', ...job('after import')]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('saw from the first release');
    const stats = JSON.parse((await run(['stats', '--json'])).stdout).volumes as { counts: object }[];
    expect(stats[0]?.counts).toEqual({ hit: 1, stale: 0, miss: 1 });
  });
});
