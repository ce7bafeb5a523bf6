import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newId, qgroupFiles } from '../src/internal/sysfs.js';

const UUID = 'd6afa296-e429-4894-b537-fcdb5317dedd';
let dir: string | undefined;

/** A directory laid out like `/sys/fs/btrfs` with these qgroups (name → file → text) for one filesystem. */
async function sysfsWith(qgroups: Record<string, Record<string, string>>): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'btrfs-sysfs-'));
  await mkdir(join(dir, 'features'), { recursive: true });
  const base = join(dir, UUID, 'qgroups');
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'inconsistent'), '0\n');
  for (const [name, files] of Object.entries(qgroups)) {
    await mkdir(join(base, name));
    for (const [file, text] of Object.entries(files)) await writeFile(join(base, name, file), text);
  }
  return dir;
}

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('qgroups in sysfs', () => {
  it('lists level-0 ids and reads figures, with the limit only when its flag is set', async () => {
    const sysfs = await sysfsWith({
      '0_5': { referenced: '16384\n', limit_flags: '0\n', max_referenced: '0\n' },
      '0_258': { referenced: '4210688\n', limit_flags: '1\n', max_referenced: '67108864\n' },
      '0_259': { referenced: '16384\n', limit_flags: '0\n', max_referenced: '67108864\n' },
      '0_260': { referenced: 'garbage\n', limit_flags: '0\n', max_referenced: '0\n' },
      '1_100': { referenced: '1\n', limit_flags: '0\n', max_referenced: '0\n' },
    });
    const files = qgroupFiles(UUID, sysfs);
    expect([...(files?.ids() ?? [])].sort()).toEqual(['258', '259', '260', '5']);
    expect(files?.read('258')).toEqual({ referenced: 4210688, limit: 67108864 });
    expect(files?.read('259')).toEqual({ referenced: 16384, limit: undefined });
    expect(files?.read('260')).toBeUndefined();
    expect(files?.read('404')).toBeUndefined();
  });

  it('is undefined for a filesystem that sysfs does not show, or that shows no qgroups', async () => {
    const sysfs = await sysfsWith({});
    expect(qgroupFiles('00000000-0000-0000-0000-000000000000', sysfs)).toBeUndefined();
    await rm(join(sysfs, UUID, 'qgroups'), { recursive: true });
    expect(qgroupFiles(UUID, sysfs)).toBeUndefined();
  });

  it('names the new subvolume only when exactly one appeared', () => {
    expect(newId(new Set(['5', '258']), new Set(['5', '258', '260']))).toBe('260');
    expect(newId(new Set(['5']), new Set(['5', '260', '261']))).toBeUndefined();
    expect(newId(new Set(['5', '258']), new Set(['5']))).toBeUndefined();
  });
});
