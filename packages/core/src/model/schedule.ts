import type { SliceSchedule } from '../contracts/store.js';
import type { ForkRecord, VolumeSlice } from './state.js';
import { isLive } from './state.js';

/** Fork states that are intents: an operation began and its outcome is not yet recorded. */
const INTENT_STATES: ReadonlySet<ForkRecord['state']> = new Set(['creating', 'committing', 'abandoning']);

/**
 * Tells whether a fork is an intent in flight (`creating`, `committing` or `abandoning`).
 *
 * @param fork - the fork
 */
export function isIntent(fork: ForkRecord): boolean {
  return INTENT_STATES.has(fork.state);
}

/**
 * When a slice next needs a reconciler: the earliest lease end among its live forks (an
 * attached fork whose lease ran out is abandoned; an intent whose lease ran out was
 * interrupted) and its removing versions, and whether anything is in flight. Stores keep it
 * beside the slice so that `claimDue` can find due volumes by an index.
 *
 * @param slice - the slice
 */
export function sliceSchedule(slice: VolumeSlice): SliceSchedule {
  let dueAt: number | null = null;
  let hasIntent = false;
  const consider = (at: number) => {
    // Stryker disable next-line EqualityOperator: on a tie it assigns the same value
    if (dueAt === null || at < dueAt) dueAt = at;
  };
  for (const fork of Object.values(slice.forks)) {
    if (!isLive(fork)) continue;
    consider(fork.expiresAt);
    if (isIntent(fork)) hasIntent = true;
  }
  for (const version of Object.values(slice.volume?.versions ?? {})) {
    if (version.state !== 'removing') continue;
    consider(version.leaseUntil ?? 0);
    hasIntent = true;
  }
  return { dueAt, hasIntent };
}

/**
 * Tells whether {@link Store.claimDue} should visit a slice.
 *
 * @param schedule - the slice's schedule
 * @param now - the current time
 * @param force - whether every intent counts, whatever its lease
 */
export function isDue(schedule: SliceSchedule, now: number, force = false): boolean {
  return (schedule.dueAt !== null && schedule.dueAt <= now) || (force && schedule.hasIntent);
}
