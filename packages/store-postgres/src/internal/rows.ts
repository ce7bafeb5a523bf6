import {
  type ForkRecord,
  isLive,
  sliceSchedule,
  type VolumeKey,
  type VolumeRecord,
  type VolumeSlice,
} from '@cachevol/core';

/** A volume row as the lock or claim statements return it (jsonb as text, bigint as text). */
export interface VolumeRow {
  record: string | null;
  due_at: string | null;
  has_intent: boolean;
}

/** What the store knows of a locked volume row besides the slice. */
export interface LockedVolume {
  /** The stored `due_at` and `has_intent`. */
  dueAt: number | null;
  hasIntent: boolean;
  /** Whether this transaction inserted the row (a placeholder), so dropping it needs no write. */
  inserted: boolean;
}

/** The changes of one slice, as parameters of the write statement. */
export interface SliceWrite {
  /** The volume. */
  key: VolumeKey;
  /** Forks to insert or update. */
  forks: ForkParam[];
  /** The volume row's new content, when it changed. */
  volume: VolumeParam | null;
  /** Delete the volume row: it has no record and no live fork left. */
  drop: boolean;
}

interface ForkParam {
  id: string;
  scope: string;
  name: string;
  live: boolean;
  ended_at: number | null;
  record: ForkRecord;
}

interface VolumeParam {
  scope: string;
  name: string;
  record: VolumeRecord | null;
  due_at: number | null;
  has_intent: boolean;
}

/**
 * A time in ms as a bigint column value. Rounded up: `due_at <= now` and `ended_at < cut-off`
 * compare against rounded-down query times, so nothing is ever due or pruned early. A time
 * past every bigint (an infinite lease) is never due.
 */
export function bigintMs(ms: number | null | undefined): number | null {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return null;
  if (!Number.isFinite(ms)) return ms > 0 ? null : Number.MIN_SAFE_INTEGER;
  return Math.ceil(ms);
}

/** Builds a slice from a volume row's record and fork rows' records (fresh objects: nothing is shared). */
export function sliceOf(key: VolumeKey, record: string | null, forks: readonly string[]): VolumeSlice {
  const slice: VolumeSlice = {
    scope: key.scope,
    name: key.name,
    volume: record === null ? null : (JSON.parse(record) as VolumeRecord),
    forks: {},
  };
  for (const text of forks) {
    const fork = JSON.parse(text) as ForkRecord;
    slice.forks[fork.id] = fork;
  }
  return slice;
}

/**
 * Builds a slice from a volume's record and its forks as one JSON array (`json_agg`), as the
 * read and list statements return them.
 */
export function sliceOfAggregate(key: VolumeKey, record: string | null, forks: string | null): VolumeSlice {
  const slice = sliceOf(key, record, []);
  for (const fork of forks ? (JSON.parse(forks) as ForkRecord[]) : []) slice.forks[fork.id] = fork;
  return slice;
}

/** The stored schedule of a locked row. */
export function lockedVolume(row: VolumeRow, inserted = false): LockedVolume {
  return { dueAt: row.due_at === null ? null : Number(row.due_at), hasIntent: row.has_intent, inserted };
}

/**
 * What to write after a transaction function turned `before` into `after`: the forks it
 * changed or added (compared by reference with what was loaded; forks it left out are kept),
 * and the volume row when its record or its schedule changed. The schedule is
 * `sliceSchedule` of the slice as stored afterwards: the loaded forks overlaid with the
 * returned ones. A row left with no record and no live fork is dropped.
 *
 * @param before - the slice handed to the function
 * @param after - the slice it returned (checked by `checkSliceUpdate`)
 * @param stored - the row's stored schedule
 */
export function planWrite(before: VolumeSlice, after: VolumeSlice, stored: LockedVolume): SliceWrite {
  const forks: ForkParam[] = [];
  const merged: Record<string, ForkRecord> = { ...before.forks };
  for (const [id, fork] of Object.entries(after.forks)) {
    if (before.forks[id] === fork) continue;
    merged[id] = fork;
    forks.push({
      id,
      scope: after.scope,
      name: after.name,
      live: isLive(fork),
      ended_at: bigintMs(fork.endedAt),
      record: fork,
    });
  }
  const stays = after.volume !== null || Object.values(merged).some(isLive);
  const key = { scope: after.scope, name: after.name };
  if (!stays) return { key, forks, volume: null, drop: true };
  const schedule = sliceSchedule({ ...after, forks: merged });
  const dueAt = bigintMs(schedule.dueAt);
  const changed =
    after.volume !== before.volume ||
    stored.inserted ||
    dueAt !== stored.dueAt ||
    schedule.hasIntent !== stored.hasIntent;
  return {
    key,
    forks,
    volume: changed
      ? {
          scope: after.scope,
          name: after.name,
          record: after.volume,
          due_at: dueAt,
          has_intent: schedule.hasIntent,
        }
      : null,
    drop: false,
  };
}

/** Whether a write has nothing to do (a placeholder this transaction inserted and dropped counts as nothing). */
export function isEmptyWrite(write: SliceWrite, stored: LockedVolume): boolean {
  return write.forks.length === 0 && write.volume === null && (!write.drop || stored.inserted);
}

/**
 * The parameters of the write statement for some slices' changes: forks to upsert, volume rows
 * to update, volume rows to delete, each as one jsonb array.
 *
 * @param writes - the slices' changes
 */
export function writeParameters(writes: readonly SliceWrite[]): [string, string, string] {
  const forks = writes.flatMap((w) => w.forks);
  const volumes = writes.flatMap((w) => (w.volume ? [w.volume] : []));
  const drops = writes.filter((w) => w.drop).map((w) => w.key);
  return [JSON.stringify(forks), JSON.stringify(volumes), JSON.stringify(drops)];
}
