import { CacheVolumeError } from '@cachevol/core';

/** The programs this backend runs (resolved to absolute macOS paths by the default runner). */
export type Tool = 'hdiutil' | 'diskutil' | 'cp' | 'sync';

/** One command line: a program and its arguments, run without a shell. */
export interface Command {
  /** The program. */
  command: Tool;
  /** Its arguments, exactly as passed. */
  args: string[];
}

/** Bytes in one `-size …b` unit: hdiutil(1) reads `b` as 512-byte sectors, as mkfile(8) does. */
export const SECTOR_BYTES = 512;

const DEVICE = /^(\/dev\/)?disk[0-9]+(s[0-9]+)*$/;

function absolute(path: string, what: string): string {
  if (!path.startsWith('/') || path.includes('\u0000')) {
    throw new CacheVolumeError(
      'INTERNAL',
      `The sparsebundle backend built a ${what} that is not absolute: ${path}`,
    );
  }
  return path;
}

function device(name: string): string {
  if (!DEVICE.test(name)) {
    throw new CacheVolumeError(
      'INTERNAL',
      `Refusing to pass ${JSON.stringify(name)} to a disk command: not a disk.`,
    );
  }
  return name;
}

/**
 * The `-size` argument for a capacity: whole 512-byte sectors, rounded up, so the image is never
 * smaller than asked (`32 MiB` → `65536b`, `1000` bytes → `2b`).
 *
 * @param bytes - the capacity in bytes (a positive integer)
 */
export function sizeArg(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid capacity ${bytes}: expected a positive whole number of bytes.`,
    );
  }
  return `${Math.ceil(bytes / SECTOR_BYTES)}b`;
}

/** The logical size hdiutil gives an image created or resized with {@link sizeArg}. */
export function imageBytes(bytes: number): number {
  return Math.ceil(bytes / SECTOR_BYTES) * SECTOR_BYTES;
}

/** What {@link createArgv} needs. */
export interface CreateSpec {
  /** Where the bundle is made (ends in `.sparsebundle`). */
  bundlePath: string;
  /** Its logical size: the capacity limit. */
  capacityBytes: number;
  /** The APFS volume name. */
  volumeName: string;
  /** Leave Spotlight indexing on. */
  spotlight: boolean;
}

/**
 * `hdiutil create -type SPARSEBUNDLE -fs APFS -size <sectors>b -volname <v> [-nospotlight] <bundle>`.
 *
 * @param spec - bundle path, capacity, volume name, Spotlight
 */
export function createArgv(spec: CreateSpec): Command {
  return {
    command: 'hdiutil',
    args: [
      'create',
      '-type',
      'SPARSEBUNDLE',
      '-fs',
      'APFS',
      '-size',
      sizeArg(spec.capacityBytes),
      '-volname',
      spec.volumeName,
      ...(spec.spotlight ? [] : ['-nospotlight']),
      absolute(spec.bundlePath, 'bundle path'),
    ],
  };
}

/**
 * `hdiutil attach -plist -nobrowse -owners on -mountpoint <dir> [-readonly] <bundle>`.
 *
 * @param bundlePath - the bundle
 * @param mountPoint - the directory to mount its volume on
 * @param readonly - attach read-only (versions)
 */
export function attachArgv(bundlePath: string, mountPoint: string, readonly: boolean): Command {
  return {
    command: 'hdiutil',
    args: [
      'attach',
      '-plist',
      '-nobrowse',
      '-owners',
      'on',
      '-mountpoint',
      absolute(mountPoint, 'mount point'),
      ...(readonly ? ['-readonly'] : []),
      absolute(bundlePath, 'bundle path'),
    ],
  };
}

/**
 * `hdiutil detach [-force] <device>`.
 *
 * @param disk - the image's whole disk, e.g. `/dev/disk4`
 * @param force - add `-force` (the last resort)
 */
export function detachArgv(disk: string, force = false): Command {
  return { command: 'hdiutil', args: ['detach', ...(force ? ['-force'] : []), device(disk)] };
}

/** `hdiutil info -plist`: every attached image. */
export function infoArgv(): Command {
  return { command: 'hdiutil', args: ['info', '-plist'] };
}

/**
 * `hdiutil resize -size <sectors>b <bundle>` (the bundle must be detached).
 *
 * @param bundlePath - the bundle
 * @param capacityBytes - its new logical size
 */
export function resizeArgv(bundlePath: string, capacityBytes: number): Command {
  return {
    command: 'hdiutil',
    args: ['resize', '-size', sizeArg(capacityBytes), absolute(bundlePath, 'bundle path')],
  };
}

/**
 * `cp -c -R <from> <to>`: an APFS clonefile copy (copy-on-write, same volume only). `<to>` must
 * not exist, or cp copies into it.
 *
 * @param from - the source bundle
 * @param to - the new bundle
 */
export function cloneArgv(from: string, to: string): Command {
  return { command: 'cp', args: ['-c', '-R', absolute(from, 'clone source'), absolute(to, 'clone target')] };
}

/** `sync`: flush every filesystem before a commit. */
export function syncArgv(): Command {
  return { command: 'sync', args: [] };
}

/**
 * `diskutil info -plist <target>`.
 *
 * @param target - a disk such as `/dev/disk5s1`
 */
export function diskInfoArgv(target: string): Command {
  return { command: 'diskutil', args: ['info', '-plist', device(target)] };
}

/**
 * `diskutil unmount force <mount point>`.
 *
 * @param mountPoint - the mounted directory
 */
export function forceUnmountArgv(mountPoint: string): Command {
  return { command: 'diskutil', args: ['unmount', 'force', absolute(mountPoint, 'mount point')] };
}

/**
 * `diskutil eject <disk>`.
 *
 * @param disk - a disk such as `disk4s1` (an APFS physical store) or `disk4`
 */
export function ejectArgv(disk: string): Command {
  return { command: 'diskutil', args: ['eject', device(disk)] };
}
