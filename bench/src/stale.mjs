/**
 * Removes what an earlier benchmark run left behind when it was killed before its teardown:
 * pools named `cachevol-bench-<pid>`, mounts and loop devices under
 * `<tmp>/cachevol-bench-<pid>-*`, a throwaway PostgreSQL server running from such a directory,
 * and those directories, but only when that pid is no longer running. Touches nothing else.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf, run, sleep } from './util.mjs';

/**
 * Whether a process is running.
 *
 * @param {number} pid - process id
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
}

/**
 * Cleans up after dead benchmark runs.
 *
 * @param {string} tmpBase - where runs put their work directories
 * @param {(message: string) => void} log - progress messages
 */
export async function cleanStaleRuns(tmpBase, log) {
  const deadDir = (name) => {
    const match = /^cachevol-bench-(\d+)-/.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !alive(Number(match[1]));
  };
  // A ZFS daemon that stopped answering must not hang the run here: give up after a while.
  const zpool = (args) => run('zpool', args, { allowFailure: true, timeoutMs: 30_000 }).catch(() => null);
  const pools = await zpool(['list', '-H', '-o', 'name']);
  for (const pool of pools?.code === 0 ? pools.stdout.split('\n') : []) {
    const match = /^cachevol-bench-(\d+)$/.exec(pool.trim());
    if (!match || Number(match[1]) === process.pid || alive(Number(match[1]))) continue;
    log(`removing pool ${pool} left by a dead run`);
    const result = await zpool(['destroy', '-f', pool]);
    if (result?.code !== 0)
      log(`cannot destroy pool ${pool}: ${result?.stderr.trim() ?? 'zpool did not run'}`);
  }
  const dirs = (await readdir(tmpBase).catch(() => [])).filter(deadDir).map((name) => join(tmpBase, name));
  if (dirs.length === 0) return;
  const under = (path) => dirs.some((dir) => path.startsWith(`${dir}/`));
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((path) => path && under(path))
    .sort((a, b) => b.length - a.length);
  for (const mount of mounts) {
    log(`unmounting ${mount} left by a dead run`);
    const result = await run('umount', [mount], { allowFailure: true });
    if (result.code !== 0) await run('umount', ['-l', mount], { allowFailure: true });
  }
  const loops = await run('losetup', ['-a'], { allowFailure: true }).catch(() => null);
  for (const line of loops?.stdout.split('\n') ?? []) {
    const match = /^(\/dev\/loop\d+):.*\((.*)\)$/.exec(line.trim());
    if (match && under(match[2])) await run('losetup', ['-d', match[1]], { allowFailure: true });
  }
  for (const dir of dirs) await stopPostmaster(join(dir, 'data'), log);
  for (const dir of dirs) {
    await rm(dir, { recursive: true, force: true }).catch((error) =>
      log(`cannot remove ${dir}: ${messageOf(error)}`),
    );
  }
}

/**
 * Stops the PostgreSQL server of a data directory a dead run left (the postmaster's pid is the
 * first line of `postmaster.pid`; it is only signalled when /proc shows that it is a postgres
 * process started on this directory). SIGQUIT is PostgreSQL's immediate shutdown.
 *
 * @param {string} data - the data directory
 * @param {(message: string) => void} log - progress messages
 */
async function stopPostmaster(data, log) {
  const text = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('postgres') || !cmdline.includes(data)) return;
  log(`stopping PostgreSQL (pid ${pid}) left by a dead run in ${data}`);
  process.kill(pid, 'SIGQUIT');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
}
