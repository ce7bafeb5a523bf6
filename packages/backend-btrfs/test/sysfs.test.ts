import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newId, qgroupFiles, type SysPaths } from '../src/internal/sysfs.js';

const UUID = 'd6afa296-e429-4894-b537-fcdb5317dedd';
let dir: string | undefined;

/**
 * A directory laid out like `/sys/fs/btrfs` with these qgroups (name → file → text), for one
 * filesystem on `loop7`, and a mount table that mounts it (on a path with a space) at `mnt`
 * beside an unrelated btrfs mount at the root.
 */
async function sysfsWith(
  qgroups: Record<string, Record<string, string>>,
): Promise<SysPaths & { mnt: string }> {
  dir = await mkdtemp(join(tmpdir(), 'btrfshot-sysfs-'));
  const mnt = join(dir, 'cache mnt');
  await mkdir(join(mnt, 'root'), { recursive: true });
  await mkdir(join(dir, 'sys', 'features'), { recursive: true });
  await mkdir(join(dir, 'sys', UUID, 'devices', 'loop7'), { recursive: true });
  const mountinfo = join(dir, 'mountinfo');
  await writeFile(
    mountinfo,
    [
      '22 1 0:21 / / rw,relatime shared:1 - btrfs /dev/sda1 rw,subvol=/',
      `94 22 0:91 / ${mnt.replaceAll(' ', '\\040')} rw,relatime shared:9 - btrfs /dev/loop7 rw,space_cache=v2`,
      '',
    ].join('\n'),
  );
  const base = join(dir, 'sys', UUID, 'qgroups');
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'inconsistent'), '0\n');
  for (const [name, files] of Object.entries(qgroups)) {
    await mkdir(join(base, name));
    for (const [file, text] of Object.entries(files)) await writeFile(join(base, name, file), text);
  }
  return { sysfs: join(dir, 'sys'), mountinfo, mnt };
}

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('qgroups in sysfs', () => {
  it('lists level-0 ids and reads figures, with the limit only when its flag is set', async () => {
    const sys = await sysfsWith({
      '0_5': { referenced: '16384\n', limit_flags: '0\n', max_referenced: '0\n' },
      '0_258': { referenced: '4210688\n', limit_flags: '1\n', max_referenced: '67108864\n' },
      '0_259': { referenced: '16384\n', limit_flags: '0\n', max_referenced: '67108864\n' },
      '1_100': { referenced: '1\n', limit_flags: '0\n', max_referenced: '0\n' },
    });
    const files = await qgroupFiles(join(sys.mnt, 'root'), sys);
    expect(files).toBeDefined();
    expect([...((await files?.ids()) ?? [])].sort()).toEqual(['258', '259', '5']);
    expect(await files?.read('258')).toEqual({ referenced: 4210688, limit: 67108864 });
    expect(await files?.read('259')).toEqual({ referenced: 16384, limit: undefined });
    expect(await files?.read('404')).toBeUndefined();
  });

  it('is undefined for a filesystem whose device sysfs does not list, or that shows no qgroups', async () => {
    const sys = await sysfsWith({});
    // The root mount's device (sda1) is not in this sysfs.
    expect(await qgroupFiles(dir as string, sys)).toBeUndefined();
    await rm(join(sys.sysfs, UUID, 'qgroups'), { recursive: true });
    expect(await qgroupFiles(sys.mnt, sys)).toBeUndefined();
  });

  it('names the new subvolume only when exactly one appeared', () => {
    expect(newId(new Set(['5', '258']), new Set(['5', '258', '260']))).toBe('260');
    expect(newId(new Set(['5']), new Set(['5', '260', '261']))).toBeUndefined();
    expect(newId(new Set(['5', '258']), new Set(['5']))).toBeUndefined();
  });
});
