import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createSparseBundleBackend, type SparseBundleBackend } from '../src/index.js';
import { parseBundleInfo } from '../src/internal/plist-output.js';
import { HdiutilSimulator, readBundleInfo } from './support/hdiutil-simulator.js';

const MIB = 2 ** 20;
const fork = { capacityBytes: 32 * MIB };
const roots: string[] = [];

async function setup(options: { detachAttempts?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'cachevol-sb-ops-'));
  roots.push(root);
  const sim = new HdiutilSimulator();
  const backend = createSparseBundleBackend({ root, runner: sim.runner, retryDelayMs: 0, ...options });
  /** The calls made so far, with the root written `<root>`, then forgotten. */
  const calls = () => {
    const lines = sim.lines().map((line) => line.split(root).join('<root>'));
    sim.clearCalls();
    return lines;
  };
  return { root, sim, backend, calls };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

async function listed(backend: SparseBundleBackend): Promise<string[]> {
  return (await backend.list()).map((e) => `${e.kind}:${e.id}`).sort();
}

afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

const ATTACH = 'hdiutil attach -plist -nobrowse -owners on -mountpoint';

describe('exact command sequences', () => {
  it('createFork: creates under building/, renames into forks/, attaches at mounts/forks/<id>', async () => {
    const { root, backend, calls } = await setup();
    const mount = await backend.createFork('f1', fork);
    expect(mount.mountPath).toBe(join(root, 'mounts/forks/f1'));
    expect(calls()).toEqual([
      'hdiutil create -type SPARSEBUNDLE -fs APFS -size 65536b -volname cachevol-f1 -nospotlight <root>/building/fork-f1.sparsebundle',
      'hdiutil info -plist',
      `${ATTACH} <root>/mounts/forks/f1 <root>/forks/f1.sparsebundle`,
    ]);
    expect(await readdir(join(root, 'building'))).toEqual([]);
    expect(parseBundleInfo(await readBundleInfo(join(root, 'forks/f1.sparsebundle')), 'f1').sizeBytes).toBe(
      32 * MIB,
    );
  });

  it('createFork again: only looks, when the fork is attached where it should be', async () => {
    const { backend, calls } = await setup();
    await backend.createFork('f1', fork);
    calls();
    await backend.createFork('f1', fork);
    expect(calls()).toEqual(['hdiutil info -plist']);
  });

  it('createFork after a reboot: re-attaches the existing bundle, keeping its files', async () => {
    const { sim, backend, calls } = await setup();
    const { mountPath } = await backend.createFork('f1', fork);
    await writeFile(join(mountPath, 'kept.txt'), 'kept');
    await sim.reboot();
    calls();
    await backend.createFork('f1', fork);
    expect(calls()).toEqual([
      'hdiutil info -plist',
      `${ATTACH} <root>/mounts/forks/f1 <root>/forks/f1.sparsebundle`,
    ]);
    expect(await readFile(join(mountPath, 'kept.txt'), 'utf8')).toBe('kept');
  });

  it('forkVersion: clones the version with cp -c, then attaches; no resize when the capacity fits', async () => {
    const { backend, calls } = await setup();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    calls();
    await backend.forkVersion('f2', 'v1', fork);
    expect(calls()).toEqual([
      'cp -c -R <root>/versions/v1.sparsebundle <root>/building/fork-f2.sparsebundle',
      'hdiutil info -plist',
      `${ATTACH} <root>/mounts/forks/f2 <root>/forks/f2.sparsebundle`,
    ]);
  });

  it('forkVersion with a larger capacity: resizes the clone before attaching it', async () => {
    const { root, backend, calls } = await setup();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    calls();
    await backend.forkVersion('f2', 'v1', { capacityBytes: 40 * MIB + 1 });
    expect(calls()).toEqual([
      'cp -c -R <root>/versions/v1.sparsebundle <root>/building/fork-f2.sparsebundle',
      'hdiutil resize -size 81921b <root>/building/fork-f2.sparsebundle',
      'hdiutil info -plist',
      `${ATTACH} <root>/mounts/forks/f2 <root>/forks/f2.sparsebundle`,
    ]);
    const info = (name: string) =>
      readBundleInfo(join(root, name)).then((t) => parseBundleInfo(t, name).sizeBytes);
    expect(await info('forks/f2.sparsebundle')).toBe(40 * MIB + 512);
    expect(await info('versions/v1.sparsebundle')).toBe(32 * MIB);
  });

  it('forkVersion of a missing version: NOT_FOUND, no command, nothing created', async () => {
    const { root, backend, calls } = await setup();
    const error = await errorOf(backend.forkVersion('f1', 'nope', fork));
    expect(isCacheVolumeError(error, 'NOT_FOUND')).toBe(true);
    expect(calls()).toEqual([]);
    expect(await readdir(join(root, 'building'))).toEqual([]);
    expect(await readdir(join(root, 'forks'))).toEqual([]);
  });

  it('commitFork: sync, find the image, detach its whole disk, check it is gone, rename', async () => {
    const { root, backend, calls } = await setup();
    await backend.createFork('f1', fork);
    calls();
    const usage = await backend.commitFork('f1', 'v1');
    expect(calls()).toEqual([
      'sync',
      'hdiutil info -plist',
      'hdiutil detach /dev/disk4',
      'hdiutil info -plist',
    ]);
    expect(usage.usedBytes).toBeGreaterThan(0);
    expect(await readdir(join(root, 'versions'))).toEqual(['v1.sparsebundle']);
    expect(await readdir(join(root, 'mounts/forks'))).toEqual([]);
  });

  it('commitFork again: runs nothing and reports the version usage', async () => {
    const { backend, calls } = await setup();
    await backend.createFork('f1', fork);
    const first = await backend.commitFork('f1', 'v1');
    calls();
    expect(await backend.commitFork('f1', 'v1')).toEqual(first);
    expect(calls()).toEqual([]);
  });

  it('commitFork into an existing version: ALREADY_EXISTS, the fork stays', async () => {
    const { backend } = await setup();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    await backend.createFork('f2', fork);
    expect(isCacheVolumeError(await errorOf(backend.commitFork('f2', 'v1')), 'ALREADY_EXISTS')).toBe(true);
    expect(await listed(backend)).toEqual(['fork:f2', 'version:v1']);
  });

  it('discardFork: detaches, trashes and removes the bundle and its mount point', async () => {
    const { root, backend, calls } = await setup();
    await backend.createFork('f1', fork);
    calls();
    await backend.discardFork('f1');
    expect(calls()).toEqual(['hdiutil info -plist', 'hdiutil detach /dev/disk4', 'hdiutil info -plist']);
    for (const dir of ['forks', 'trash', 'building', 'mounts/forks'])
      expect(await readdir(join(root, dir))).toEqual([]);
  });

  it('removeVersion: one look for attachments, then rm; the clones made from it keep their data', async () => {
    const { backend, calls } = await setup();
    const a = await backend.createFork('f1', fork);
    await writeFile(join(a.mountPath, 'data.txt'), 'v1');
    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    calls();
    await backend.removeVersion('v1');
    expect(calls()).toEqual(['hdiutil info -plist']);
    expect(await readFile(join(b.mountPath, 'data.txt'), 'utf8')).toBe('v1');
  });

  it('usage: walks the bundle in-process (no command), counting allocated blocks', async () => {
    const { backend, calls } = await setup();
    const { mountPath } = await backend.createFork('f1', fork);
    const before = (await backend.usage('fork', 'f1')).usedBytes;
    await writeFile(join(mountPath, 'big.bin'), Buffer.alloc(256 * 1024, 7));
    const after = (await backend.usage('fork', 'f1')).usedBytes;
    expect(after - before).toBeGreaterThanOrEqual(256 * 1024);
    calls();
    await backend.usage('fork', 'f1');
    expect(calls()).toEqual([]);
  });

  it('list: reads the layout directories plus hdiutil info', async () => {
    const { backend, calls } = await setup();
    await backend.createFork('f1', fork);
    calls();
    expect(await listed(backend)).toEqual(['fork:f1']);
    expect(calls()).toEqual(['hdiutil info -plist']);
  });

  it('mountVersion attaches read-only at mounts/versions/<id>; unmountVersion detaches it', async () => {
    const { root, backend, calls } = await setup();
    const a = await backend.createFork('f1', fork);
    await writeFile(join(a.mountPath, 'a.txt'), 'alpha');
    await backend.commitFork('f1', 'v1');
    calls();
    const mount = await backend.mountVersion('v1');
    expect(calls()).toEqual([
      'hdiutil info -plist',
      `${ATTACH} <root>/mounts/versions/v1 -readonly <root>/versions/v1.sparsebundle`,
    ]);
    expect(await readFile(join(mount.mountPath, 'a.txt'), 'utf8')).toBe('alpha');
    await backend.mountVersion('v1');
    expect(calls()).toEqual(['hdiutil info -plist']);
    await backend.unmountVersion('v1');
    expect(calls()).toEqual(['hdiutil info -plist', 'hdiutil detach /dev/disk6', 'hdiutil info -plist']);
    expect(await readdir(join(root, 'mounts/versions'))).toEqual([]);
    expect(isCacheVolumeError(await errorOf(backend.mountVersion('v404')), 'NOT_FOUND')).toBe(true);
  });

  it('removeVersion detaches a version that is mounted read-only', async () => {
    const { sim, backend } = await setup();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    await backend.mountVersion('v1');
    await backend.removeVersion('v1');
    expect(sim.attached()).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });
});

describe('detaching busy images', () => {
  it('retries a busy detach after a pause', async () => {
    const { root, sim, backend, calls } = await setup({ detachAttempts: 5 });
    await backend.createFork('f1', fork);
    sim.makeBusy(join(root, 'forks/f1.sparsebundle'), 2);
    calls();
    await backend.commitFork('f1', 'v1');
    expect(calls()).toEqual([
      'sync',
      'hdiutil info -plist',
      'hdiutil detach /dev/disk4',
      'hdiutil detach /dev/disk4',
      'hdiutil detach /dev/disk4',
      'hdiutil info -plist',
    ]);
  });

  it('uses -force once the plain tries are used up', async () => {
    const { root, sim, backend, calls } = await setup({ detachAttempts: 2 });
    await backend.createFork('f1', fork);
    sim.makeBusy(join(root, 'forks/f1.sparsebundle'), 99);
    calls();
    await backend.discardFork('f1');
    expect(calls()).toEqual([
      'hdiutil info -plist',
      'hdiutil detach /dev/disk4',
      'hdiutil detach /dev/disk4',
      'hdiutil detach -force /dev/disk4',
      'hdiutil info -plist',
    ]);
    expect(sim.attached()).toEqual([]);
  });

  it('falls back to diskutil: reads the APFS physical store, force-unmounts, ejects the store', async () => {
    const { root, sim, backend, calls } = await setup({ detachAttempts: 1 });
    await backend.createFork('f1', fork);
    sim.makeBusy(join(root, 'forks/f1.sparsebundle'), 99, true);
    calls();
    await backend.discardFork('f1');
    expect(calls()).toEqual([
      'hdiutil info -plist',
      'hdiutil detach /dev/disk4',
      'hdiutil detach -force /dev/disk4',
      'diskutil info -plist /dev/disk5s1',
      'diskutil unmount force <root>/mounts/forks/f1',
      'diskutil eject disk4s1',
      'hdiutil info -plist',
    ]);
    expect(sim.attached()).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });

  it('gives up with CONFLICT, saying what to do, when nothing detaches the image', async () => {
    const { root, sim, backend } = await setup({ detachAttempts: 1 });
    await backend.createFork('f1', fork);
    sim.makeBusy(join(root, 'forks/f1.sparsebundle'), 99, true);
    sim.failNext((c) => c.command === 'diskutil' && c.args[0] === 'eject', {
      exitCode: 1,
      stdout: '',
      stderr: 'Unable to eject disk4s1: Resource busy',
    });
    const error = await errorOf(backend.commitFork('f1', 'v1'));
    expect(isCacheVolumeError(error, 'CONFLICT')).toBe(true);
    expect((error as Error).message).toMatch(/lsof \+D .*mounts\/forks\/f1/);
    expect(await listed(backend)).toEqual(['fork:f1']);
  });

  it('treats "No such file or directory" from detach as already detached', async () => {
    const { root, sim, backend, calls } = await setup();
    await backend.createFork('f1', fork);
    sim.runThenAnswer((c) => c.args[0] === 'detach', {
      exitCode: 1,
      stdout: '',
      stderr: 'hdiutil: detach failed - No such file or directory\n',
    });
    calls();
    await backend.discardFork('f1');
    expect(calls()).toEqual(['hdiutil info -plist', 'hdiutil detach /dev/disk4', 'hdiutil info -plist']);
    expect(sim.attached()).toEqual([]);
    expect(await readdir(join(root, 'forks'))).toEqual([]);
  });

  it('reports other detach failures as CommandFailedError', async () => {
    const { backend, sim } = await setup();
    await backend.createFork('f1', fork);
    sim.failNext((c) => c.args[0] === 'detach', {
      exitCode: 1,
      stdout: '',
      stderr: 'hdiutil: detach failed - Input/output error\n',
    });
    const error = await errorOf(backend.discardFork('f1'));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).code).toBe('BACKEND_FAILED');
    expect((error as CommandFailedError).args).toEqual(['detach', '/dev/disk4']);
  });
});

describe('hdiutil errors through the backend', () => {
  it('maps "No space left on device" from create to CAPACITY_EXCEEDED and leaves nothing behind', async () => {
    const { root, sim, backend } = await setup();
    sim.failNext((c) => c.args[0] === 'create', {
      exitCode: 1,
      stdout: '',
      stderr: 'hdiutil: create failed - No space left on device\n',
    });
    const error = await errorOf(backend.createFork('f1', fork));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).code).toBe('CAPACITY_EXCEEDED');
    expect((error as CommandFailedError).stderr).toBe('hdiutil: create failed - No space left on device');
    expect(await readdir(join(root, 'building'))).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });

  it('retries a busy attach, then reports CONFLICT', async () => {
    const { sim, backend, calls } = await setup({ detachAttempts: 2 });
    const busy = { exitCode: 1, stdout: '', stderr: 'hdiutil: attach failed - Resource busy\n' };
    sim.failNext((c) => c.args[0] === 'attach', busy);
    sim.failNext((c) => c.args[0] === 'attach', busy);
    const error = await errorOf(backend.createFork('f1', fork));
    expect(isCacheVolumeError(error, 'CONFLICT')).toBe(true);
    expect(calls().filter((l) => l.startsWith('hdiutil attach'))).toHaveLength(2);
    sim.failNext((c) => c.args[0] === 'attach', busy);
    await backend.createFork('f1', fork);
    expect(calls().filter((l) => l.startsWith('hdiutil attach'))).toHaveLength(2);
  });

  it('maps an attach of a vanished bundle to NOT_FOUND', async () => {
    const { sim, backend } = await setup();
    sim.failNext((c) => c.args[0] === 'attach', {
      exitCode: 1,
      stdout: '',
      stderr: 'hdiutil: attach failed - No such file or directory\n',
    });
    expect(isCacheVolumeError(await errorOf(backend.createFork('f1', fork)), 'NOT_FOUND')).toBe(true);
  });

  it('detaches again and fails when hdiutil mounts the volume somewhere else', async () => {
    const { sim, backend } = await setup();
    sim.failNext((c) => c.args[0] === 'attach', {
      exitCode: 0,
      stdout: `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>system-entities</key><array>
        <dict><key>content-hint</key><string>GUID_partition_scheme</string><key>dev-entry</key><string>/dev/disk30</string></dict>
        <dict><key>content-hint</key><string>41504653-0000-11AA-AA11-00306543ECAC</string><key>dev-entry</key><string>/dev/disk31s1</string><key>mount-point</key><string>/Volumes/cachevol-f1</string></dict>
      </array></dict></plist>`,
      stderr: '',
    });
    const error = await errorOf(backend.createFork('f1', fork));
    expect(isCacheVolumeError(error, 'BACKEND_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/\/Volumes\/cachevol-f1 instead of .*mounts\/forks\/f1/);
    expect(sim.lines()).toContain('hdiutil detach /dev/disk30');
  });

  it('removes the half-made clone when the resize fails', async () => {
    const { root, sim, backend } = await setup();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    sim.failNext((c) => c.args[0] === 'resize', {
      exitCode: 1,
      stdout: '',
      stderr: 'hdiutil: resize: failed. No space left on device (28)\n',
    });
    const error = await errorOf(backend.forkVersion('f2', 'v1', { capacityBytes: 64 * MIB }));
    expect(isCacheVolumeError(error, 'CAPACITY_EXCEEDED')).toBe(true);
    expect(await readdir(join(root, 'building'))).toEqual([]);
    expect(await listed(backend)).toEqual(['version:v1']);
  });

  it('says BACKEND_UNAVAILABLE when hdiutil cannot be started', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cachevol-sb-ops-'));
    roots.push(root);
    const backend = createSparseBundleBackend({
      root,
      runner: async () => {
        throw Object.assign(new Error('spawn /usr/bin/hdiutil ENOENT'), { code: 'ENOENT' });
      },
    });
    const error = await errorOf(backend.createFork('f1', fork));
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/needs macOS/);
  });
});

describe('crash leftovers', () => {
  it('lists a bundle half-built under building/ and an image left attached from it; discard detaches it', async () => {
    const { root, sim, backend } = await setup();
    const building = join(root, 'building/fork-f9.sparsebundle');
    await sim.runner('hdiutil', [
      'create',
      '-type',
      'SPARSEBUNDLE',
      '-fs',
      'APFS',
      '-size',
      '2048b',
      '-volname',
      'x',
      building,
    ]);
    await mkdir(join(root, 'mounts/forks/f9'), { recursive: true });
    await sim.runner('hdiutil', [
      'attach',
      '-plist',
      '-nobrowse',
      '-owners',
      'on',
      '-mountpoint',
      join(root, 'mounts/forks/f9'),
      building,
    ]);
    expect(await listed(backend)).toEqual(['fork:f9']);
    await backend.discardFork('f9');
    expect(sim.attached()).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });

  it('lists an image attached from under the root whose bundle is already gone', async () => {
    const { root, sim, backend } = await setup();
    await backend.createFork('f1', fork);
    // A crash after the bundle was renamed into the trash but before it was detached.
    await rm(join(root, 'mounts/forks/f1'));
    await mkdir(join(root, 'trash'), { recursive: true });
    const { rename } = await import('node:fs/promises');
    await rename(join(root, 'forks/f1.sparsebundle'), join(root, 'trash/fork-f1.sparsebundle'));
    expect(await listed(backend)).toEqual(['fork:f1']);
    await backend.discardFork('f1');
    expect(sim.attached()).toEqual([]);
    expect(await backend.list()).toEqual([]);
  });

  it('detachLeftovers keeps live forks and detaches versions and stray images', async () => {
    const { root, sim, backend } = await setup();
    await backend.createFork('f1', fork);
    await backend.createFork('f2', fork);
    await backend.commitFork('f2', 'v2');
    await backend.mountVersion('v2');
    // A second backend process after a crash: same root, same host attachments.
    const again = createSparseBundleBackend({ root, runner: sim.runner, retryDelayMs: 0 });
    expect(await again.detachLeftovers()).toEqual([join(root, 'versions/v2.sparsebundle')]);
    expect(sim.attached()).toEqual([join(root, 'forks/f1.sparsebundle')]);
    expect(await readdir(join(root, 'mounts/versions'))).toEqual([]);
    expect(await again.detachLeftovers()).toEqual([]);
  });

  it('leaves images outside the root alone', async () => {
    const { sim, backend } = await setup();
    const outside = await mkdtemp(join(tmpdir(), 'cachevol-sb-outside-'));
    roots.push(outside);
    const bundle = join(outside, 'other.sparsebundle');
    await sim.runner('hdiutil', [
      'create',
      '-type',
      'SPARSEBUNDLE',
      '-fs',
      'APFS',
      '-size',
      '2048b',
      '-volname',
      'o',
      bundle,
    ]);
    await mkdir(join(outside, 'mnt'));
    await sim.runner('hdiutil', [
      'attach',
      '-plist',
      '-nobrowse',
      '-owners',
      'on',
      '-mountpoint',
      join(outside, 'mnt'),
      bundle,
    ]);
    expect(await backend.list()).toEqual([]);
    expect(await backend.detachLeftovers()).toEqual([]);
    expect(sim.attached()).toEqual([bundle]);
  });
});

describe('options and the root', () => {
  const runner = new HdiutilSimulator().runner;

  it('refuses the reserved macOS paths themselves, in any spelling, naming the option', () => {
    for (const root of [
      '/tmp',
      '/tmp/',
      '//tmp',
      '/tmp/.',
      '/var/../tmp',
      '/TMP',
      '/private',
      '/private/',
      '/private/tmp',
      '/',
    ]) {
      let error: unknown;
      try {
        createSparseBundleBackend({ root, runner });
      } catch (e) {
        error = e;
      }
      expect(isCacheVolumeError(error, 'INVALID_ARGUMENT'), root).toBe(true);
      expect((error as Error).message).toMatch(/root: .*a path macOS reserves/);
    }
  });

  it('accepts sub-paths such as /tmp/volume', () => {
    expect(createSparseBundleBackend({ root: '/tmp/volume/', runner }).root).toBe('/tmp/volume');
    expect(createSparseBundleBackend({ root: '/private/tmp/cachevol', runner }).root).toBe(
      '/private/tmp/cachevol',
    );
  });

  it('refuses a root that is a symlink to a reserved path, on first use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cachevol-sb-link-'));
    roots.push(dir);
    const link = join(dir, 'cache');
    await symlink('/tmp', link);
    const backend = createSparseBundleBackend({ root: link, runner });
    const error = await errorOf(backend.list());
    expect(isCacheVolumeError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/reserves/);
    expect(await realpath(link)).toBe('/tmp');
  });

  it('refuses relative roots and bad tuning, naming the option', () => {
    const message = (options: Record<string, unknown>) => {
      try {
        createSparseBundleBackend({ root: '/ci/cache', runner, ...options } as never);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(message({ root: 'cache' })).toMatch(/root: must be an absolute path/);
    expect(message({ detachAttempts: 0 })).toMatch(/detachAttempts/);
    expect(message({ volumeNamePrefix: 'a b' })).toMatch(/volumeNamePrefix/);
    expect(message({ runner: 'hdiutil' })).toMatch(/runner: must be a function/);
    expect(message({ unknown: 1 })).toMatch(/unknown/);
  });

  it('needs macOS when no runner is given', () => {
    let error: unknown;
    try {
      createSparseBundleBackend({ root: '/ci/cache' });
    } catch (e) {
      error = e;
    }
    if (process.platform === 'darwin') {
      expect(error).toBeUndefined();
    } else {
      expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toMatch(/needs macOS/);
    }
  });

  it('declares its capabilities honestly', async () => {
    const { backend } = await setup();
    expect(backend.name).toBe('sparsebundle');
    expect(backend.capabilities).toEqual({
      copyOnWrite: true,
      constantTime: false,
      quota: true,
      transfer: false,
      changeDetection: false,
    });
    expect(backend.hasChanges).toBeUndefined();
  });
});

describe('a crash at any command', () => {
  const steps: ((b: SparseBundleBackend) => Promise<unknown>)[] = [
    async (b) => writeFile(join((await b.createFork('f1', fork)).mountPath, 'a.txt'), 'alpha'),
    (b) => b.commitFork('f1', 'v1'),
    (b) => b.forkVersion('f2', 'v1', { capacityBytes: 48 * MIB }),
    (b) => b.discardFork('f2'),
    async (b) => writeFile(join((await b.forkVersion('f3', 'v1', fork)).mountPath, 'b.txt'), 'beta'),
    (b) => b.mountVersion('v1'),
    (b) => b.removeVersion('v1'),
    (b) => b.commitFork('f3', 'v2'),
  ];

  it('is repaired by retrying the interrupted operation in a new process', async () => {
    const { sim: count, backend: counting } = await setup();
    for (const step of steps) await step(counting);
    const total = count.calls.length;
    expect(total).toBeGreaterThan(15);

    for (let crashAt = 0; crashAt < total; crashAt++) {
      const { root, sim } = await setup();
      let calls = 0;
      const dying = createSparseBundleBackend({
        root,
        retryDelayMs: 0,
        runner: (command, args) => {
          if (++calls > crashAt) return Promise.reject(new Error('simulated crash'));
          return sim.runner(command, args);
        },
      });
      const healthy = createSparseBundleBackend({ root, runner: sim.runner, retryDelayMs: 0 });
      let backend: SparseBundleBackend = dying;
      for (const step of steps) {
        try {
          await step(backend);
        } catch (error) {
          if (backend !== dying) throw error;
          backend = healthy;
          await step(backend);
        }
      }
      expect(await listed(healthy), `crash after ${crashAt} commands`).toEqual(['version:v2']);
      const v2 = await healthy.mountVersion('v2');
      expect(await readdir(v2.mountPath), `crash after ${crashAt} commands`).toEqual(['a.txt', 'b.txt']);
      await healthy.unmountVersion('v2');
      expect(sim.attached(), `crash after ${crashAt} commands`).toEqual([]);
    }
  });
});
