import { describe, expect, it } from 'vitest';
import {
  attachArgv,
  cloneArgv,
  createArgv,
  detachArgv,
  diskInfoArgv,
  ejectArgv,
  forceUnmountArgv,
  imageBytes,
  infoArgv,
  resizeArgv,
  sizeArg,
  syncArgv,
} from '../src/internal/argv.js';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

describe('size arguments', () => {
  it('counts whole 512-byte sectors, rounding up, so an image is never smaller than its capacity', () => {
    expect(sizeArg(32 * MIB)).toBe('65536b');
    expect(sizeArg(20 * GIB)).toBe('41943040b');
    expect(sizeArg(1)).toBe('1b');
    expect(sizeArg(512)).toBe('1b');
    expect(sizeArg(513)).toBe('2b');
    expect(sizeArg(20 * GIB + 1)).toBe('41943041b');
    expect(imageBytes(513)).toBe(1024);
    expect(imageBytes(20 * GIB)).toBe(20 * GIB);
  });

  it('refuses capacities that are not positive whole bytes', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(() => sizeArg(bad)).toThrow(/capacity/);
    }
  });
});

describe('hdiutil command lines', () => {
  it('creates an APFS sparse bundle of the capacity, without Spotlight by default', () => {
    expect(
      createArgv({
        bundlePath: '/ci/cache/building/fork-f1.sparsebundle',
        capacityBytes: 20 * GIB,
        volumeName: 'cachevol-f1',
        spotlight: false,
      }),
    ).toEqual({
      command: 'hdiutil',
      args: [
        'create',
        '-type',
        'SPARSEBUNDLE',
        '-fs',
        'APFS',
        '-size',
        '41943040b',
        '-volname',
        'cachevol-f1',
        '-nospotlight',
        '/ci/cache/building/fork-f1.sparsebundle',
      ],
    });
    expect(
      createArgv({ bundlePath: '/b.sparsebundle', capacityBytes: 1024, volumeName: 'v', spotlight: true })
        .args,
    ).toEqual([
      'create',
      '-type',
      'SPARSEBUNDLE',
      '-fs',
      'APFS',
      '-size',
      '2b',
      '-volname',
      'v',
      '/b.sparsebundle',
    ]);
  });

  it('attaches writable forks and read-only versions at a given mount point, as a plist', () => {
    expect(attachArgv('/ci/cache/forks/f1.sparsebundle', '/ci/cache/mounts/forks/f1', false)).toEqual({
      command: 'hdiutil',
      args: [
        'attach',
        '-plist',
        '-nobrowse',
        '-owners',
        'on',
        '-mountpoint',
        '/ci/cache/mounts/forks/f1',
        '/ci/cache/forks/f1.sparsebundle',
      ],
    });
    expect(
      attachArgv('/ci/cache/versions/v1.sparsebundle', '/ci/cache/mounts/versions/v1', true).args,
    ).toEqual([
      'attach',
      '-plist',
      '-nobrowse',
      '-owners',
      'on',
      '-mountpoint',
      '/ci/cache/mounts/versions/v1',
      '-readonly',
      '/ci/cache/versions/v1.sparsebundle',
    ]);
  });

  it('detaches a whole disk, with -force only as the last resort', () => {
    expect(detachArgv('/dev/disk4')).toEqual({ command: 'hdiutil', args: ['detach', '/dev/disk4'] });
    expect(detachArgv('/dev/disk4', true)).toEqual({
      command: 'hdiutil',
      args: ['detach', '-force', '/dev/disk4'],
    });
  });

  it('lists attached images and resizes a detached bundle', () => {
    expect(infoArgv()).toEqual({ command: 'hdiutil', args: ['info', '-plist'] });
    expect(resizeArgv('/ci/cache/building/fork-f2.sparsebundle', 64 * MIB)).toEqual({
      command: 'hdiutil',
      args: ['resize', '-size', '131072b', '/ci/cache/building/fork-f2.sparsebundle'],
    });
  });
});

describe('cp, sync and diskutil command lines', () => {
  it('clones with clonefile (cp -c) recursively', () => {
    expect(
      cloneArgv('/ci/cache/versions/v1.sparsebundle', '/ci/cache/building/fork-f2.sparsebundle'),
    ).toEqual({
      command: 'cp',
      args: ['-c', '-R', '/ci/cache/versions/v1.sparsebundle', '/ci/cache/building/fork-f2.sparsebundle'],
    });
  });

  it('flushes with sync', () => {
    expect(syncArgv()).toEqual({ command: 'sync', args: [] });
  });

  it('builds the diskutil fallbacks', () => {
    expect(diskInfoArgv('/dev/disk5s1')).toEqual({
      command: 'diskutil',
      args: ['info', '-plist', '/dev/disk5s1'],
    });
    expect(forceUnmountArgv('/ci/cache/mounts/forks/f1')).toEqual({
      command: 'diskutil',
      args: ['unmount', 'force', '/ci/cache/mounts/forks/f1'],
    });
    expect(ejectArgv('disk4s1')).toEqual({ command: 'diskutil', args: ['eject', 'disk4s1'] });
  });

  it('refuses device names and paths that could be read as options or escape', () => {
    for (const bad of ['-force', 'disk4; rm -rf /', '/etc/passwd', 'disk', '../disk4', '']) {
      expect(() => detachArgv(bad)).toThrow();
      expect(() => ejectArgv(bad)).toThrow();
      expect(() => diskInfoArgv(bad)).toThrow();
    }
    expect(() => attachArgv('relative.sparsebundle', '/m', false)).toThrow(/absolute/);
    expect(() => cloneArgv('/a', '-R')).toThrow(/absolute/);
    expect(() => forceUnmountArgv('mnt')).toThrow(/absolute/);
  });
});
