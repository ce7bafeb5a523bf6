import { readdirSync, readFileSync } from 'node:fs';

/**
 * The processes of a process group that have not ended (zombies that nobody reaped yet are not
 * counted: they cannot run), read from `/proc` (Linux). `null` where there is no `/proc` to
 * read: then only signalling the group is possible.
 *
 * @param pgid - the process group id (the command's pid: cachevol makes it a group leader)
 */
export function groupMembers(pgid: number): number[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  if (!entries.includes('self')) return null;
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}

/**
 * Sends a signal to every process of a group.
 *
 * @param pgid - the process group id
 * @param signal - the signal, or 0 to ask whether the group still exists
 * @returns whether the group existed (false once every member has ended)
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    // EPERM: a member changed its user (a setuid program); the others were still signalled.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a group has processes left that can run (on Linux, zombies do not count). */
function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false; // no process at all: no need to read /proc
  const members = groupMembers(pgid);
  return members ? members.length > 0 : true;
}

const POLL_MS = 10;
/** How long to wait for a group to disappear after SIGKILL (it can only linger in the kernel). */
const AFTER_KILL_MS = 5_000;

/**
 * Waits until a group has no process that can run, or the time is up.
 *
 * @param pgid - the process group id
 * @param ms - how long at most
 * @returns whether the group is empty
 */
export async function waitGroupEmpty(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - performance.now()))),
    );
  }
}

/** What {@link endGroup} did. */
export interface GroupEnd {
  /** How many processes were left in the group (null where they cannot be counted). */
  found: number | null;
  /** Whether any were left (with `found` null: whether the group still existed). */
  any: boolean;
  /** Whether some outlived SIGTERM and the grace, and were sent SIGKILL. */
  forced: boolean;
}

/**
 * Ends what is left of a process group: SIGTERM (and SIGCONT) to the group, up to `graceMs` for it to empty,
 * then SIGKILL, and a few seconds more for the kernel to remove them.
 *
 * @param pgid - the process group id
 * @param graceMs - how long the processes have after SIGTERM
 */
export async function endGroup(pgid: number, graceMs: number): Promise<GroupEnd> {
  if (!signalGroup(pgid, 0)) return { found: 0, any: false, forced: false }; // the usual case
  const members = groupMembers(pgid);
  const any = members ? members.length > 0 : true;
  if (!any) return { found: 0, any, forced: false };
  signalGroup(pgid, 'SIGTERM');
  signalGroup(pgid, 'SIGCONT'); // a stopped process would not see SIGTERM until continued
  if (await waitGroupEmpty(pgid, graceMs)) return { found: members?.length ?? null, any, forced: false };
  signalGroup(pgid, 'SIGKILL');
  await waitGroupEmpty(pgid, AFTER_KILL_MS);
  return { found: members?.length ?? null, any, forced: true };
}
