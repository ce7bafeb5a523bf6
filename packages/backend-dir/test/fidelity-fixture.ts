import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmod,
  lchown,
  link,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';

/** Why `setfattr`/`getfattr` cannot be used here, or `null`. */
export function xattrToolsUnavailable(): string | null {
  for (const tool of ['setfattr', 'getfattr']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} not found: install attr`;
  }
  return null;
}

/**
 * Sets an extended attribute on a path itself (never through a symlink).
 *
 * @param path - the file
 * @param name - e.g. `user.x`
 * @param value - its value
 */
export function setXattr(path: string, name: string, value: string): void {
  execFileSync('setfattr', ['-h', '-n', name, '-v', value, '--', path]);
}

/**
 * Reads an extended attribute of a path itself, or `null` when it has none of that name.
 *
 * @param path - the file
 * @param name - e.g. `user.x`
 */
export function getXattr(path: string, name: string): string | null {
  const result = spawnSync('getfattr', ['-h', '--only-values', '-n', name, '--', path], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : null;
}

const THEN = new Date('2001-02-03T04:05:06.789Z');
const SPARSE_SIZE = 64 << 20;
const SPARSE_DATA = Buffer.alloc(4096, 7);

/** Makes a socket file at `path` (a hard link to a listening socket, which outlives it). */
async function makeSocket(path: string): Promise<void> {
  const server = createServer();
  const listening = `${path}.listening`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listening, resolve);
  });
  await link(listening, path);
  await new Promise((resolve) => server.close(resolve));
}

/** What {@link writeEverything} makes. */
export interface FixtureOptions {
  /** A directory outside the backend that symlinks point into (it must stay untouched). */
  outside: string;
  /** Also make what needs root: device files, an overlay whiteout, `trusted.*` attributes, owners. */
  asRoot: boolean;
}

/**
 * Fills `dir` with one of everything a regular Linux filesystem holds, the way a container
 * engine's overlay2 data root and a build cache do.
 *
 * @param dir - an empty directory
 * @param options - see {@link FixtureOptions}
 */
export async function writeEverything(dir: string, options: FixtureOptions): Promise<void> {
  await writeFile(join(options.outside, 'secret.txt'), 'outside data');
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'file.txt'), 'hello');
  await chmod(join(dir, 'sub', 'file.txt'), 0o640);
  await link(join(dir, 'sub', 'file.txt'), join(dir, 'file-link'));
  setXattr(join(dir, 'sub', 'file.txt'), 'user.cachevol.file', 'on a file');
  setXattr(join(dir, 'sub'), 'user.cachevol.dir', 'on a directory');
  await writeFile(join(dir, 'run.sh'), '#!/bin/sh\n');
  await chmod(join(dir, 'run.sh'), 0o4751);
  const sparse = await open(join(dir, 'sparse.bin'), 'w');
  await sparse.write(SPARSE_DATA, 0, SPARSE_DATA.length, SPARSE_SIZE / 2);
  await sparse.truncate(SPARSE_SIZE);
  await sparse.close();
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await makeSocket(join(dir, 'socket'));
  await symlink('sub/file.txt', join(dir, 'relative'));
  await symlink(join(options.outside, 'secret.txt'), join(dir, 'absolute'));
  await symlink(options.outside, join(dir, 'dir-outside'));
  await symlink('../../../../../../etc', join(dir, 'climbing'));
  await symlink('missing', join(dir, 'dangling'));
  if (options.asRoot) {
    execFileSync('mknod', [join(dir, 'null-device'), 'c', '1', '3']);
    // overlay2's layers: a whiteout (a 0/0 character device) hides a lower file; an opaque
    // directory hides the lower directory's contents.
    await mkdir(join(dir, 'layer', 'opaque'), { recursive: true });
    execFileSync('mknod', [join(dir, 'layer', 'deleted.txt'), 'c', '0', '0']);
    setXattr(join(dir, 'layer', 'opaque'), 'trusted.overlay.opaque', 'y');
    setXattr(join(dir, 'layer', 'deleted.txt'), 'trusted.overlay.whiteout', 'y');
    await lchown(join(dir, 'sub', 'file.txt'), 1234, 5678);
    await lchown(join(dir, 'layer'), 2345, 6789);
    await lchown(join(dir, 'relative'), 3456, 7890);
  }
  await utimes(join(dir, 'sub', 'file.txt'), THEN, THEN);
  await utimes(join(dir, 'sub'), THEN, THEN);
}

/**
 * Checks that `dir` holds exactly what {@link writeEverything} made, and that `outside` is
 * untouched.
 *
 * @param dir - a copy (or the original)
 * @param options - as passed to {@link writeEverything}
 */
export async function expectEverything(dir: string, options: FixtureOptions): Promise<void> {
  const at = (p: string) => join(dir, p);
  const file = await lstat(at('sub/file.txt'));
  expect(await readFile(at('sub/file.txt'), 'utf8')).toBe('hello');
  expect(file.mode & 0o7777, 'file mode').toBe(0o640);
  expect(file.mtime.getTime(), 'file mtime').toBe(THEN.getTime());
  expect((await lstat(at('sub'))).mtime.getTime(), 'directory mtime').toBe(THEN.getTime());
  expect(file.nlink, 'hard link count').toBe(2);
  expect((await lstat(at('file-link'))).ino, 'hard link').toBe(file.ino);
  expect((await lstat(at('run.sh'))).mode & 0o7777, 'setuid mode').toBe(0o4751);
  expect(getXattr(at('sub/file.txt'), 'user.cachevol.file')).toBe('on a file');
  expect(getXattr(at('sub'), 'user.cachevol.dir')).toBe('on a directory');

  const sparse = await lstat(at('sparse.bin'));
  expect(sparse.size).toBe(SPARSE_SIZE);
  expect(sparse.blocks * 512, 'a sparse file stays sparse').toBeLessThan(1 << 20);
  const handle = await open(at('sparse.bin'), 'r');
  const back = Buffer.alloc(SPARSE_DATA.length);
  await handle.read(back, 0, back.length, SPARSE_SIZE / 2);
  await handle.close();
  expect(back.equals(SPARSE_DATA)).toBe(true);

  expect((await lstat(at('fifo'))).isFIFO(), 'FIFO').toBe(true);
  expect((await lstat(at('socket'))).isSocket(), 'socket').toBe(true);
  const links: Record<string, string> = {
    relative: 'sub/file.txt',
    absolute: join(options.outside, 'secret.txt'),
    'dir-outside': options.outside,
    climbing: '../../../../../../etc',
    dangling: 'missing',
  };
  for (const [name, target] of Object.entries(links)) {
    expect((await lstat(at(name))).isSymbolicLink(), name).toBe(true);
    expect(await readlink(at(name)), name).toBe(target);
  }
  if (options.asRoot) {
    const device = await lstat(at('null-device'));
    expect(device.isCharacterDevice(), 'character device').toBe(true);
    expect(device.rdev, 'device number').toBe((await lstat('/dev/null')).rdev);
    const whiteout = await lstat(at('layer/deleted.txt'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'overlay whiteout').toBe(true);
    expect(getXattr(at('layer/opaque'), 'trusted.overlay.opaque')).toBe('y');
    expect(getXattr(at('layer/deleted.txt'), 'trusted.overlay.whiteout')).toBe('y');
    expect([file.uid, file.gid]).toEqual([1234, 5678]);
    const layer = await lstat(at('layer'));
    expect([layer.uid, layer.gid]).toEqual([2345, 6789]);
    const relative = await lstat(at('relative'));
    expect([relative.uid, relative.gid]).toEqual([3456, 7890]);
  }
  expect(await readFile(join(options.outside, 'secret.txt'), 'utf8')).toBe('outside data');
}
