import {
  CacheVolumeError,
  type ForkRecord,
  isLive,
  type SliceSchedule,
  sliceSchedule,
  type VolumeKey,
  type VolumeRecord,
  type VolumeSlice,
} from '@cachevol/core';
import type { Database } from 'better-sqlite3';
import { deepFreeze } from './freeze.js';

/** A slice as a transaction loaded it, with what its volume row held. */
export interface LoadedSlice {
  /** The slice handed to the slice function (deep-frozen). */
  slice: VolumeSlice;
  /** The row's `due_at` and `has_intent`, or `null` when the volume has no row. */
  schedule: SliceSchedule | null;
}

/** One page of volumes, in `(scope, name)` order. */
export interface SlicePage {
  /** The page's slices (deep-frozen). */
  slices: VolumeSlice[];
  /** Whether more volumes with a record follow. */
  more: boolean;
}

/** The store's SQL on one connection: see {@link openTables}. */
export interface Tables {
  /** Loads a volume's slice: its record, its live forks and the ended ones named in `wanted`. */
  load(key: VolumeKey, wanted?: readonly string[]): LoadedSlice;
  /** Writes what changed between the loaded slice and the next one (see {@link openTables}). */
  write(key: VolumeKey, loaded: LoadedSlice, next: VolumeSlice): void;
  /** A fork by id, live or ended. */
  findFork(forkId: string): ForkRecord | null;
  /** Volumes with a record after `after` (exclusive), in `(scope, name)` byte order. */
  page(after: VolumeKey | null, limit: number): SlicePage;
  /** Up to `limit` volumes due at `now`, soonest first. */
  due(now: number, force: boolean, limit: number): VolumeKey[];
  /** Deletes the ended forks that ended before `endedBefore`; returns how many. */
  prune(endedBefore: number): number;
  /** Whether the database holds no volume and no fork. */
  isEmpty(): boolean;
  /** A `meta` value, or `null`. */
  meta(key: string): string | null;
  /** Sets a `meta` value. */
  setMeta(key: string, value: string): void;
}

/** The loaded state of a volume that has no rows: what the legacy import writes over. */
export function nothingLoaded(key: VolumeKey): LoadedSlice {
  return { slice: { scope: key.scope, name: key.name, volume: null, forks: {} }, schedule: null };
}

interface VolumeRow {
  record: string | null;
  due_at: number | null;
  has_intent: number;
}

/**
 * Prepares every statement the store runs, once per connection, and maps rows to records.
 *
 * Writes touch only what changed: a fork is written when the returned slice holds an object
 * other than the one loaded (compared by reference: loaded slices are frozen, so an unchanged
 * fork is the same object), the volume's record when `volume` is another object, and the
 * row's `due_at`/`has_intent` (core's `sliceSchedule` of the slice as stored after the write:
 * the loaded live forks overlaid with the returned forks, since forks left out are kept) when
 * they change. `volume: null` deletes the record; the row stays only while live forks remain.
 *
 * @param db - the open connection (schema migrated)
 * @param path - the database file, for messages
 */
export function openTables(db: Database, path: string): Tables {
  const parse = <T>(text: string, what: string): T => {
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new CacheVolumeError(
        'STORE_FAILED',
        `The SQLite database ${path} holds a corrupt record (${what}): ${(error as Error).message}. cachevol will not overwrite it. Restore ${path} from a backup, or move ${path}, ${path}-wal and ${path}-shm aside to start from an empty state.`,
        { cause: error, details: { path, record: what } },
      );
    }
  };
  const forkOf = (text: string) => parse<ForkRecord>(text, 'a fork');

  const selectVolume = db.prepare<[string, string], VolumeRow>(
    'SELECT record, due_at, has_intent FROM volumes WHERE scope = ? AND name = ?',
  );
  const selectLiveForks = db
    .prepare<[string, string], string>(
      'SELECT record FROM forks WHERE scope = ? AND name = ? AND live = 1 ORDER BY id',
    )
    .pluck();
  const selectForkOf = db
    .prepare<[string, string, string], string>(
      'SELECT record FROM forks WHERE id = ? AND scope = ? AND name = ?',
    )
    .pluck();
  const selectFork = db.prepare<[string], string>('SELECT record FROM forks WHERE id = ?').pluck();
  const upsertFork = db.prepare<[string, string, string, number, number | null, string]>(
    `INSERT INTO forks (id, scope, name, live, ended_at, record) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, name = excluded.name, live = excluded.live,
       ended_at = excluded.ended_at, record = excluded.record`,
  );
  const upsertVolume = db.prepare<[string, string, string | null, number | null, number]>(
    `INSERT INTO volumes (scope, name, record, due_at, has_intent) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (scope, name) DO UPDATE SET record = excluded.record, due_at = excluded.due_at,
       has_intent = excluded.has_intent`,
  );
  const upsertSchedule = db.prepare<[string, string, number | null, number]>(
    `INSERT INTO volumes (scope, name, record, due_at, has_intent) VALUES (?, ?, NULL, ?, ?)
     ON CONFLICT (scope, name) DO UPDATE SET due_at = excluded.due_at, has_intent = excluded.has_intent`,
  );
  const deleteVolume = db.prepare<[string, string]>('DELETE FROM volumes WHERE scope = ? AND name = ?');
  const firstPage = db.prepare<[number], { scope: string; name: string; record: string }>(
    'SELECT scope, name, record FROM volumes WHERE record IS NOT NULL ORDER BY scope, name LIMIT ?',
  );
  const nextPage = db.prepare<[string, string, number], { scope: string; name: string; record: string }>(
    `SELECT scope, name, record FROM volumes WHERE record IS NOT NULL AND (scope, name) > (?, ?)
     ORDER BY scope, name LIMIT ?`,
  );
  const dueVolumes = db.prepare<[number, number], VolumeKey>(
    'SELECT scope, name FROM volumes WHERE due_at <= ? ORDER BY due_at LIMIT ?',
  );
  // `has_intent = 1` implies `due_at IS NOT NULL` (an intent always has a lease end), so the
  // due_at index holds every forced volume too.
  const dueOrBusyVolumes = db.prepare<[number, number], VolumeKey>(
    `SELECT scope, name FROM volumes WHERE due_at IS NOT NULL AND (due_at <= ? OR has_intent = 1)
     ORDER BY due_at LIMIT ?`,
  );
  const pruneEnded = db.prepare<[number]>('DELETE FROM forks WHERE live = 0 AND ended_at < ?');
  const anyRow = db
    .prepare<[], number>('SELECT EXISTS (SELECT 1 FROM volumes) OR EXISTS (SELECT 1 FROM forks)')
    .pluck();
  const selectMeta = db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
  const upsertMeta = db.prepare<[string, string]>(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );

  const liveForks = (key: VolumeKey): [string, ForkRecord][] =>
    selectLiveForks.all(key.scope, key.name).map((text) => {
      const fork = forkOf(text);
      return [fork.id, fork];
    });

  return {
    load(key, wanted = []) {
      const row = selectVolume.get(key.scope, key.name);
      const entries = liveForks(key);
      for (const id of wanted) {
        if (entries.some(([known]) => known === id)) continue;
        const text = selectForkOf.get(id, key.scope, key.name);
        if (text !== undefined) entries.push([id, forkOf(text)]);
      }
      const volume = row?.record ? parse<VolumeRecord>(row.record, `volume ${key.scope}/${key.name}`) : null;
      return {
        slice: deepFreeze({ scope: key.scope, name: key.name, volume, forks: Object.fromEntries(entries) }),
        schedule: row ? { dueAt: row.due_at, hasIntent: row.has_intent === 1 } : null,
      };
    },

    write(key, loaded, next) {
      const before = loaded.slice;
      if (next === before) return;
      const volumeChanged = next.volume !== before.volume;
      const changedForks = Object.values(next.forks).filter((fork) => before.forks[fork.id] !== fork);
      if (!volumeChanged && changedForks.length === 0) return;
      for (const fork of changedForks) {
        upsertFork.run(
          fork.id,
          key.scope,
          key.name,
          isLive(fork) ? 1 : 0,
          fork.endedAt ?? null,
          JSON.stringify(fork),
        );
      }
      const stored: VolumeSlice = { ...key, volume: next.volume, forks: { ...before.forks, ...next.forks } };
      const schedule = sliceSchedule(stored);
      const hasIntent = schedule.hasIntent ? 1 : 0;
      if (next.volume === null && !Object.values(stored.forks).some(isLive)) {
        if (loaded.schedule) deleteVolume.run(key.scope, key.name);
      } else if (volumeChanged) {
        const record = next.volume === null ? null : JSON.stringify(next.volume);
        upsertVolume.run(key.scope, key.name, record, schedule.dueAt, hasIntent);
      } else if (
        loaded.schedule?.dueAt !== schedule.dueAt ||
        loaded.schedule?.hasIntent !== schedule.hasIntent
      ) {
        upsertSchedule.run(key.scope, key.name, schedule.dueAt, hasIntent);
      }
    },

    findFork(forkId) {
      const text = selectFork.get(forkId);
      return text === undefined ? null : deepFreeze(forkOf(text));
    },

    page(after, limit) {
      const rows = after ? nextPage.all(after.scope, after.name, limit + 1) : firstPage.all(limit + 1);
      const slices = rows.slice(0, limit).map((row) =>
        deepFreeze({
          scope: row.scope,
          name: row.name,
          volume: parse<VolumeRecord>(row.record, `volume ${row.scope}/${row.name}`),
          forks: Object.fromEntries(liveForks(row)),
        }),
      );
      return { slices, more: rows.length > limit };
    },

    due(now, force, limit) {
      return (force ? dueOrBusyVolumes : dueVolumes).all(now, limit);
    },

    prune(endedBefore) {
      return pruneEnded.run(endedBefore).changes;
    },

    isEmpty() {
      return anyRow.get() === 0;
    },

    meta(key) {
      return selectMeta.get(key) ?? null;
    },

    setMeta(key, value) {
      upsertMeta.run(key, value);
    },
  };
}
