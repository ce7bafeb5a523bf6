import { readFileSync } from 'node:fs';

/**
 * The start time of a process, in clock ticks after boot (field 22 of `/proc/PID/stat`), or
 * `null` where there is no `/proc` (macOS) or the process does not exist.
 *
 * @param pid - the process
 */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/** This process, as the holder of links it makes. */
export function thisHolder(): { pid: number; startTicks: number | null } {
  return { pid: process.pid, startTicks: processStartTicks(process.pid) };
}

/**
 * Whether a link's holder process still runs (on this host): the pid exists and, where the
 * start time is known, it is the same process (not a later one that got the pid).
 *
 * @param holder - the recorded holder
 */
export function holderRuns(holder: { pid: number; startTicks: number | null }): boolean {
  if (holder.startTicks !== null) return processStartTicks(holder.pid) === holder.startTicks;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists, owned by another user
  }
}
