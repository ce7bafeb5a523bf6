import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { holderRuns, thisHolder } from '../../src/engine/linking/holder.js';
import { bindMountArgv, hasSysAdmin, unmountArgv } from '../../src/engine/linking/mount-commands.js';
import {
  filesystemPath,
  mountAt,
  mountOf,
  mountShows,
  parseMountInfo,
} from '../../src/engine/linking/mountinfo.js';
import { emptySlice, type ForkRecord, recordLinks } from '../../src/index.js';

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '40 27 0:45 / /mnt/pool rw,relatime - btrfs /dev/loop3 rw,space_cache=v2,subvolid=5,subvol=/',
  '41 27 254:0 /tmp/d/forks/f-1/node_modules /work/app/node_modules rw,relatime - ext4 /dev/vda rw',
  '42 27 0:45 /forks/f-2/a\\040b /work/my\\040app/x rw - btrfs /dev/loop3 rw',
  '43 27 254:0 /tmp/d/forks/f-0/c//deleted /work/old/c rw - ext4 /dev/vda rw',
  'garbage line',
  '',
].join('\n');

describe('mountinfo', () => {
  const mounts = parseMountInfo(MOUNTINFO);

  it('parses device, root and mount point, unescapes octal escapes, and marks deleted roots', () => {
    expect(mounts).toHaveLength(6);
    expect(mounts[4]).toEqual({
      device: '0:45',
      root: '/forks/f-2/a b',
      mountPoint: '/work/my app/x',
      deleted: false,
    });
    expect(mounts[5]).toMatchObject({ root: '/tmp/d/forks/f-0/c', deleted: true });
  });

  it('finds the mount a path is on and the mount at a path', () => {
    expect(mountOf(mounts, '/mnt/pool/forks/f-2')?.mountPoint).toBe('/mnt/pool');
    expect(mountOf(mounts, '/mnt/poolside')?.mountPoint).toBe('/');
    expect(mountAt(mounts, '/work/app/node_modules')?.root).toBe('/tmp/d/forks/f-1/node_modules');
    expect(mountAt(mounts, '/work/app')).toBeUndefined();
  });

  it('tells what a bind mount shows, by filesystem and path inside it', () => {
    const fork1 = filesystemPath(mounts, '/tmp/d/forks/f-1');
    expect(fork1).toEqual({ device: '254:0', path: '/tmp/d/forks/f-1' });
    const fork2 = filesystemPath(mounts, '/mnt/pool/forks/f-2');
    expect(fork2).toEqual({ device: '0:45', path: '/forks/f-2' });
    const [, , , bind1, bind2] = mounts;
    expect(mountShows(bind1 as never, fork1 as never)).toBe(true);
    expect(mountShows(bind2 as never, fork2 as never)).toBe(true);
    expect(mountShows(bind2 as never, fork1 as never)).toBe(false);
    expect(mountShows(bind1 as never, { device: '254:0', path: '/tmp/d/forks/f-10' })).toBe(false);
  });
});

describe('mount commands', () => {
  it('are argument vectors, with -- before paths', () => {
    expect(bindMountArgv('/data/forks/f-1/nm', '/w/-nm')).toEqual([
      'mount',
      ['--bind', '--', '/data/forks/f-1/nm', '/w/-nm'],
    ]);
    expect(unmountArgv('/w/nm')).toEqual(['umount', ['--', '/w/nm']]);
    expect(unmountArgv('/w/nm', true)).toEqual(['umount', ['--lazy', '--', '/w/nm']]);
  });

  it('reads CAP_SYS_ADMIN from the effective capabilities', () => {
    expect(hasSysAdmin('Name:\tnode\nCapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasSysAdmin('CapEff:\t0000000000200000\n')).toBe(true);
    expect(hasSysAdmin('CapEff:\t00000000001fffff\n')).toBe(false);
    expect(hasSysAdmin('CapPrm:\t000001ffffffffff\n')).toBe(false);
  });
});

describe('recordLinks', () => {
  const fork: ForkRecord = {
    id: 'f-1',
    scope: 's',
    name: 'n',
    baseId: null,
    result: 'miss',
    requestedBytes: 1,
    capacityBytes: 1,
    host: 'h',
    job: 'j',
    commitMode: 'on-success',
    createdAt: 0,
    expiresAt: 10,
    mountPath: '/d/forks/f-1',
    state: 'attached',
    versionId: null,
    commitAfterSeq: null,
    endedAt: null,
  };
  const slice = { ...emptySlice({ scope: 's', name: 'n' }), forks: { 'f-1': fork } };
  const link = { path: '/w/nm', subdir: 'nm', method: 'bind' as const, madeDir: true };

  it('records links on an attached fork and clears them with an empty list', () => {
    const linked = recordLinks(slice, 'f-1', [link]);
    expect(linked.forks['f-1']?.links).toEqual([link]);
    expect(slice.forks['f-1']?.links).toBeUndefined();
    expect(recordLinks(linked, 'f-1', []).forks['f-1']).toEqual(fork);
  });

  it('refuses a fork that is not attached', () => {
    const ended = { ...slice, forks: { 'f-1': { ...fork, state: 'committed' as const } } };
    expect(() => recordLinks(ended, 'f-1', [link])).toThrow(
      /Cannot link fork "f-1": it was already committed/,
    );
  });
});

describe('link holders', () => {
  it('this process runs; a process that ended does not, nor one that got its pid later', async () => {
    const me = thisHolder();
    expect(me.pid).toBe(process.pid);
    expect(holderRuns(me)).toBe(true);
    if (process.platform === 'linux') {
      expect(me.startTicks).toEqual(expect.any(Number));
      expect(holderRuns({ pid: process.pid, startTicks: (me.startTicks ?? 0) + 1 })).toBe(false);
    }
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid as number;
    await new Promise((resolve) => child.on('exit', resolve));
    expect(holderRuns({ pid, startTicks: null })).toBe(false);
    expect(holderRuns({ pid, startTicks: 1 })).toBe(false);
  });
});
