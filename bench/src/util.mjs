/**
 * Small helpers: clocks, percentiles, running commands with argument arrays, formatting.
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** Milliseconds since an arbitrary origin, with sub-millisecond resolution. */
export const now = () => performance.now();

/**
 * @typedef {object} Summary
 * @property {number} n - samples
 * @property {number} p50 - median, ms (nearest rank)
 * @property {number} p95 - 95th percentile, ms (nearest rank)
 * @property {number} mean - ms
 * @property {number} min - ms
 * @property {number} max - ms
 */

/**
 * Nearest-rank percentile of sorted samples.
 *
 * @param {number[]} sorted - ascending
 * @param {number} q - in (0, 1]
 */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * p50, p95, mean, min and max of samples.
 *
 * @param {number[]} samples - ms
 * @returns {Summary}
 */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    mean: round(mean),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * Rounds to 4 significant digits (enough for timings, short in JSON).
 *
 * @param {number} value - any number
 */
export function round(value) {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(4));
}

/**
 * @typedef {object} CommandResult
 * @property {number} code - exit code (or -1 when killed by a signal)
 * @property {string} stdout
 * @property {string} stderr
 */

/**
 * Runs a program with an argument array (never a shell) and collects its output.
 *
 * @param {string} command - the program
 * @param {readonly string[]} args - its arguments
 * @param {{ allowFailure?: boolean, env?: NodeJS.ProcessEnv, timeoutMs?: number }} [options] -
 *   `allowFailure`: resolve with the exit code instead of rejecting; `timeoutMs`: kill the
 *   program (SIGKILL) when it runs longer, and fail (or resolve with code -1)
 * @returns {Promise<CommandResult>}
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? null
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      if (timedOut) stderr += `(killed after ${options.timeoutMs} ms)`;
      const result = { code: code ?? -1, stdout, stderr };
      if (code === 0 || options.allowFailure) resolve(result);
      else {
        const error = new Error(
          `${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(0, 500)}`,
        );
        Object.assign(error, result);
        reject(error);
      }
    });
  });
}

/**
 * Flushes every filesystem (`sync`) and lets btrfs finish deleting subvolumes on the
 * benchmark's own btrfs filesystems (until `btrfs subvolume list -d` is empty), so that neither
 * write-back nor the cleaner's work for the last iteration (with quotas on, accounting every
 * extent a deleted fork shared) leaks into the next timing, or into the next subject's.
 */
export async function syncAll() {
  await run('sync', []);
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  for (const line of mounts.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type !== 'btrfs' || !mountPoint?.includes('/cachevol-bench-')) continue;
    // The cleaner starts after a transaction commit: commit, wait until no deleted subvolume
    // is left (polled here: `btrfs subvolume sync` checks only once a second), commit its work.
    await run('btrfs', ['filesystem', 'sync', mountPoint]);
    while ((await run('btrfs', ['subvolume', 'list', '-d', mountPoint])).stdout.trim() !== '')
      await sleep(20);
    await run('btrfs', ['filesystem', 'sync', mountPoint]);
  }
}

/**
 * Creates a sparse file of `sizeBytes` (a loop device's or a pool's backing file): no data is
 * written, so it takes no space until used.
 *
 * @param {string} path - the file
 * @param {number} sizeBytes - its size
 */
export async function sparseFile(path, sizeBytes) {
  const handle = await open(path, 'w');
  await handle.truncate(sizeBytes);
  await handle.close();
}

/**
 * Waits.
 *
 * @param {number} ms - milliseconds
 */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Formats bytes as binary units (`512 MiB`).
 *
 * @param {number} bytes - a byte count
 */
export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Formats a duration in ms, choosing µs, ms or s.
 *
 * @param {number | null | undefined} ms - milliseconds
 */
export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '-';
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/**
 * Formats a ratio (`0.0123×`, `12.3×`).
 *
 * @param {number | null | undefined} value - the ratio
 */
export function formatRatio(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (value < 0.01) return `${value.toPrecision(2)}×`;
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×`;
}

/**
 * Turns anything thrown into a one-line message.
 *
 * @param {unknown} error - what was thrown
 */
export function messageOf(error) {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0].slice(0, 300);
}
