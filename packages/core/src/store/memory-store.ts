import {
  DEFAULT_PAGE_SIZE,
  type DueQuery,
  type ListVolumesOptions,
  type SliceFunction,
  type Store,
  type TransactOptions,
  type VolumePage,
} from '../contracts/store.js';
import { CacheVolumeError } from '../errors.js';
import { isDue, sliceSchedule } from '../model/schedule.js';
import {
  type ForkRecord,
  isLive,
  type VolumeKey,
  type VolumeSlice,
  volumeKeyString,
} from '../model/state.js';
import { checkSliceUpdate, decodeCursor, encodeCursor } from './slice-io.js';

interface Entry {
  key: VolumeKey;
  volume: VolumeSlice['volume'];
  /** The volume's live forks. */
  live: Map<string, ForkRecord>;
  /** Its ended forks, until pruned. */
  ended: Map<string, ForkRecord>;
  /** `sliceSchedule` of the stored slice. */
  dueAt: number | null;
  hasIntent: boolean;
  /** The tail of this volume's transaction queue, and how many transactions are queued. */
  tail: Promise<unknown>;
  pending: number;
}

/**
 * Freezes a value and everything it holds that is not frozen yet. Records a transaction wrote
 * are frozen once, so later transactions share them instead of copying the whole slice; an
 * unchanged part of a slice costs nothing.
 */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
  return value;
}

/**
 * A store in process memory: the reference implementation of the {@link Store} contract, for
 * tests and for one process that needs no persistence.
 *
 * Transactions on one volume run one at a time; transactions on different volumes do not wait
 * on each other. Stored records are deep-frozen and shared with callers, never copied: what a
 * transaction returns cannot be changed (writes to it throw), so nothing aliases stored state,
 * and a transaction costs what it changes, not what the volume holds.
 *
 * @example
 * ```ts
 * const volumes = new CacheVolumes({ backend: createMemoryBackend(), store: createMemoryStore() })
 * ```
 */
export function createMemoryStore(): Store {
  const entries = new Map<string, Entry>();
  const forkVolumes = new Map<string, string>();
  /** Entries that have something scheduled, so `claimDue` never walks every volume. */
  const scheduled = new Set<Entry>();
  let sortedKeys: string[] | null = null;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new CacheVolumeError('STORE_FAILED', 'The memory store was closed; open a new one.');
  };

  const entryOf = (key: VolumeKey): Entry => {
    const id = volumeKeyString(key);
    let entry = entries.get(id);
    if (!entry) {
      entry = {
        key: { scope: key.scope, name: key.name },
        volume: null,
        live: new Map(),
        ended: new Map(),
        dueAt: null,
        hasIntent: false,
        tail: Promise.resolve(),
        pending: 0,
      };
      entries.set(id, entry);
      sortedKeys = null;
    }
    return entry;
  };

  const sliceOf = (entry: Entry, wanted: readonly string[] = []): VolumeSlice => {
    const forks: Record<string, ForkRecord> = Object.fromEntries(entry.live);
    for (const id of wanted) {
      const fork = entry.ended.get(id);
      if (fork) forks[id] = fork;
    }
    return Object.freeze({ scope: entry.key.scope, name: entry.key.name, volume: entry.volume, forks });
  };

  const write = (entry: Entry, before: VolumeSlice, after: VolumeSlice) => {
    if (after === before) return;
    entry.volume = deepFreeze(after.volume);
    for (const fork of Object.values(after.forks)) {
      if (before.forks[fork.id] === fork) continue;
      deepFreeze(fork);
      if (isLive(fork)) {
        entry.live.set(fork.id, fork);
        entry.ended.delete(fork.id);
      } else {
        entry.ended.set(fork.id, fork);
        entry.live.delete(fork.id);
      }
      forkVolumes.set(fork.id, volumeKeyString(entry.key));
    }
    const schedule = sliceSchedule(sliceOf(entry));
    entry.dueAt = schedule.dueAt;
    entry.hasIntent = schedule.hasIntent;
    if (entry.dueAt !== null || entry.hasIntent) scheduled.add(entry);
    else scheduled.delete(entry);
  };

  const run = <T>(entry: Entry, work: () => T): Promise<T> => {
    entry.pending++;
    const next = entry.tail
      .catch(() => undefined)
      .then(work)
      .finally(() => {
        // Forget a volume that holds nothing once no transaction waits on it.
        if (--entry.pending === 0 && entry.volume === null && entry.live.size + entry.ended.size === 0) {
          entries.delete(volumeKeyString(entry.key));
          sortedKeys = null;
        }
      });
    entry.tail = next;
    return next;
  };

  const transactOn = <T>(entry: Entry, fn: SliceFunction<T>, wanted?: readonly string[]): T => {
    ensureOpen();
    const before = sliceOf(entry, wanted);
    const out = fn(before);
    checkSliceUpdate(out, entry.key);
    write(entry, before, out.slice);
    return out.result;
  };

  const keysInOrder = (): string[] => {
    if (!sortedKeys) {
      sortedKeys = [...entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return sortedKeys;
  };

  return {
    name: 'memory',
    async read(key) {
      ensureOpen();
      const entry = entries.get(volumeKeyString(key));
      return entry
        ? sliceOf(entry)
        : Object.freeze({ scope: key.scope, name: key.name, volume: null, forks: {} });
    },
    transact<T>(key: VolumeKey, fn: SliceFunction<T>, options: TransactOptions = {}) {
      const entry = entryOf(key);
      return run(entry, () => transactOn(entry, fn, options.forks));
    },
    async findFork(forkId) {
      ensureOpen();
      const id = forkVolumes.get(forkId);
      const entry = id ? entries.get(id) : undefined;
      return entry?.live.get(forkId) ?? entry?.ended.get(forkId) ?? null;
    },
    async listVolumes(options: ListVolumesOptions = {}): Promise<VolumePage> {
      ensureOpen();
      const limit = options.limit ?? DEFAULT_PAGE_SIZE;
      const keys = keysInOrder();
      const after = options.after ? volumeKeyString(decodeCursor(options.after)) : null;
      let lo = 0;
      if (after !== null) {
        let hi = keys.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((keys[mid] as string) <= after) lo = mid + 1;
          else hi = mid;
        }
      }
      const slices: VolumeSlice[] = [];
      let i = lo;
      const hasRecord = (at: number) => !!entries.get(keys[at] as string)?.volume;
      for (; i < keys.length && slices.length < limit; i++) {
        if (hasRecord(i)) slices.push(sliceOf(entries.get(keys[i] as string) as Entry));
      }
      while (i < keys.length && !hasRecord(i)) i++; // so the last page says so

      const last = slices[slices.length - 1];
      return { slices, next: i < keys.length && last ? encodeCursor(last) : null };
    },
    async claimDue<T>(query: DueQuery, fn: SliceFunction<T>): Promise<T[]> {
      ensureOpen();
      const due = [...scheduled]
        .filter((entry) => isDue(entry, query.now, query.force))
        .sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0))
        .slice(0, query.limit);
      const results: T[] = [];
      for (const entry of due) {
        // Another claimer may have taken it while this one waited for the volume: check again.
        const result = await run(entry, () =>
          isDue(entry, query.now, query.force) ? { value: transactOn(entry, fn) } : null,
        );
        if (result) results.push(result.value);
      }
      return results;
    },
    async pruneForks(endedBefore) {
      ensureOpen();
      let pruned = 0;
      for (const [forkId, id] of forkVolumes) {
        const entry = entries.get(id);
        const fork = entry?.ended.get(forkId);
        if (!entry || !fork || fork.endedAt === null || fork.endedAt >= endedBefore) continue;
        entry.ended.delete(forkId);
        forkVolumes.delete(forkId);
        pruned++;
      }
      return pruned;
    },
    async close() {
      closed = true;
    },
  };
}
