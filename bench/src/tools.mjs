/**
 * Finds the external tools the benchmark uses, without installing anything: each missing tool
 * is reported with the Debian package that provides it.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from './util.mjs';

/** Tool → Debian package that provides it. */
const PACKAGES = {
  cp: 'coreutils',
  sync: 'coreutils',
  tar: 'tar',
  zstd: 'zstd',
  btrfs: 'btrfs-progs',
  'mkfs.btrfs': 'btrfs-progs',
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  zfs: 'zfs-fuse (or zfsutils-linux)',
  zpool: 'zfs-fuse (or zfsutils-linux)',
  'zfs-fuse': 'zfs-fuse',
};

/** Version flags, for the record. */
const VERSION_ARGS = {
  tar: ['--version'],
  zstd: ['--version'],
  btrfs: ['--version'],
  cp: ['--version'],
};

/**
 * Where a program is on PATH (plus /usr/sbin and /sbin), or `null`.
 *
 * @param {string} tool - program name
 */
export function which(tool) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, tool);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * @typedef {object} ToolInfo
 * @property {string | null} path - where it is, or `null` when missing
 * @property {string | null} version - first line of its version output, when it has one
 * @property {string} package - the Debian package to install when missing
 */

/**
 * Looks up every tool the benchmark may use.
 *
 * @returns {Promise<Record<string, ToolInfo>>}
 */
export async function findTools() {
  /** @type {Record<string, ToolInfo>} */
  const tools = {};
  for (const [tool, pkg] of Object.entries(PACKAGES)) {
    const path = which(tool);
    let version = null;
    const args = VERSION_ARGS[tool];
    if (path && args) {
      const out = await run(path, args, { allowFailure: true }).catch(() => null);
      version = out ? (out.stdout || out.stderr).split('\n')[0].trim() || null : null;
    }
    tools[tool] = { path, version, package: pkg };
  }
  return tools;
}

/**
 * Why a set of tools is not usable, or `null` when all are there.
 *
 * @param {Record<string, ToolInfo>} tools - from {@link findTools}
 * @param {string[]} needed - tool names
 */
export function missingTools(tools, needed) {
  const missing = needed.filter((tool) => !tools[tool]?.path);
  if (missing.length === 0) return null;
  const packages = [...new Set(missing.map((tool) => PACKAGES[tool] ?? tool))];
  return `${missing.join(', ')} not found (install: apt-get install -y ${packages.join(' ')})`;
}

/** Whether this process runs as root (loop devices, mounts and pools need it). */
export const isRoot = () => process.getuid?.() === 0;

/** Whether the kernel ZFS module is loaded (OpenZFS), so no zfs-fuse daemon is needed. */
export const kernelZfs = () => existsSync('/dev/zfs');
