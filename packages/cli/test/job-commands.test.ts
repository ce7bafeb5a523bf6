import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, sandbox, tempDir } from './helpers/cli.js';

let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ensureBuilt();
  ({ dir: base, cleanup } = await tempDir('job-commands'));
});
afterAll(() => cleanup());

describe('finish-job and abandon-job: the forks of one job label', () => {
  it("end only that job's attached forks, by its exit code, and nothing the second time", async () => {
    const { run, work } = await sandbox(base, 'two-jobs');
    const attach = async (name: string, job: string, path: string) => {
      const result = await run(['attach', name, '--path', path, '--job', job, '--json']);
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { forkId: string }).forkId;
    };
    const a1 = await attach('deps', 'job-a', 'a1');
    const a2 = await attach('tools', 'job-a', 'a2');
    const b = await attach('deps', 'job-b', 'b');
    await writeFile(join(work, 'a1', 'file'), 'a\n');

    const finished = await run(['finish-job', 'job-a', '--exit-code', '0', '--json']);
    expect(finished.code, finished.stderr).toBe(0);
    const forks = (JSON.parse(finished.stdout) as { forks: { forkId: string; action: string }[] }).forks;
    expect(forks.map((f) => [f.forkId, f.action]).sort()).toEqual(
      [
        [a1, 'committed'],
        [a2, 'committed'],
      ].sort(),
    );
    const again = await run(['finish-job', 'job-a', '--exit-code', '0']);
    expect(again).toMatchObject({ code: 0, stdout: 'job-a: no attached fork\n' });

    const listed = JSON.parse((await run(['ls', '--json'])).stdout) as {
      volumes: { name: string; forks: { id: string; state: string }[] }[];
    };
    expect(
      listed.volumes.flatMap((v) => v.forks.filter((f) => f.state === 'attached').map((f) => f.id)),
    ).toEqual([b]);

    const abandoned = await run(['abandon-job', 'job-b']);
    expect(abandoned.code, abandoned.stderr).toBe(0);
    expect(abandoned.stdout).toMatch(new RegExp(`^default/deps: ${b} abandoned in `));
    const stats = JSON.parse((await run(['ls', '--json'])).stdout) as {
      volumes: { name: string; headId: string | null; forks: { state: string }[] }[];
    };
    expect(stats.volumes.flatMap((v) => v.forks.filter((f) => f.state === 'attached'))).toEqual([]);
  });

  it('abandon on a non-zero exit code, need --exit-code, and find nothing on a root never used', async () => {
    const { run } = await sandbox(base, 'exit-codes');
    expect(await run(['abandon-job', 'nobody'])).toMatchObject({
      code: 0,
      stdout: 'nobody: no attached fork\n',
    });
    await run(['attach', 'deps', '--job', 'job-c']);
    const failed = JSON.parse((await run(['finish-job', 'job-c', '--exit-code', '1', '--json'])).stdout) as {
      forks: { action: string; versionId: string | null }[];
    };
    expect(failed.forks).toEqual([expect.objectContaining({ action: 'abandoned', versionId: null })]);
    expect((await run(['finish-job', 'job-c'])).code).toBe(2);
    expect((await run(['finish-job', 'job-c', '--exit-code', 'x'])).code).toBe(2);
  });
});
