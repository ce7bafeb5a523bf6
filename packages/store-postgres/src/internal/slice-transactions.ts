import {
  CacheVolumeError,
  checkSliceUpdate,
  type DueQuery,
  type SliceFunction,
  type SliceUpdate,
  type TransactOptions,
  type VolumeKey,
  type VolumeSlice,
  volumeKeyString,
} from '@cachevol/core';
import type { QueryResult } from 'pg';
import {
  isEmptyWrite,
  lockedVolume,
  planWrite,
  type SliceWrite,
  sliceOf,
  type VolumeRow,
  writeParameters,
} from './rows.js';
import type { Statements } from './sql.js';
import { FunctionError, runTransaction, type Statement, type TransactionContext } from './transaction.js';

/** What the slice transactions need: the pool and timeouts, and the schema's statements. */
export interface SliceContext extends TransactionContext {
  statements: Statements;
}

/** How often a transaction re-tries to lock a volume whose row vanished as it waited. */
const MAX_LOCK_ROUNDS = 10;

function applyFunction<T>(fn: SliceFunction<T>, slice: VolumeSlice, key: VolumeKey): SliceUpdate<T> {
  try {
    const out = fn(slice);
    checkSliceUpdate(out, key);
    return out;
  } catch (error) {
    throw new FunctionError(error);
  }
}

const writeOf = (context: SliceContext, writes: readonly SliceWrite[]): Statement | null =>
  writes.length > 0 ? { ...context.statements.write, values: writeParameters(writes) } : null;

/**
 * `Store.transact`: locks the volume's row (creating it for a new volume), loads its live forks
 * and the ended ones asked for, runs the function and writes what changed, in one transaction.
 *
 * @param context - pool, timeouts, statements
 * @param key - the volume
 * @param fn - the pure function
 * @param options - ended forks to load, durability
 */
export function transactSlice<T>(
  context: SliceContext,
  key: VolumeKey,
  fn: SliceFunction<T>,
  options: TransactOptions,
): Promise<T> {
  const { statements } = context;
  const loadForks: Statement = {
    ...statements.loadForks,
    values: [key.scope, key.name, [...(options.forks ?? [])]],
  };
  const lock: Statement = { ...statements.lockVolume, values: [key.scope, key.name] };
  return runTransaction(context, { operation: 'transact', key }, options.durable === true, async (tx) => {
    let [locked, forks] = (await tx.run([lock, loadForks])) as [QueryResult<VolumeRow>, QueryResult];
    let inserted = false;
    for (let round = 0; locked.rows.length === 0; round++) {
      if (round === MAX_LOCK_ROUNDS)
        throw new CacheVolumeError(
          'STORE_FAILED',
          `Could not lock volume ${key.scope}/${key.name}: its row was deleted and re-created ${round} times in a row.`,
        );
      // A new volume: create its row (two creators serialise on it), then lock and load again.
      const created = await tx.run([
        { ...statements.insertPlaceholder, values: [key.scope, key.name] },
        lock,
        loadForks,
      ]);
      inserted = created[0]?.rowCount === 1;
      [locked, forks] = created.slice(1) as [QueryResult<VolumeRow>, QueryResult];
    }
    const row = locked.rows[0] as VolumeRow;
    const stored = lockedVolume(row, inserted);
    const before = sliceOf(
      key,
      row.record,
      forks.rows.map((r: { record: string }) => r.record),
    );
    const out = applyFunction(fn, before, key);
    const write = planWrite(before, out.slice, stored);
    return { value: out.result, write: writeOf(context, isEmptyWrite(write, stored) ? [] : [write]) };
  });
}

/**
 * `Store.claimDue`: in one transaction, locks up to `limit` due volumes with `FOR UPDATE SKIP
 * LOCKED` (volumes other clients hold are passed over), loads their live forks, runs the
 * function on each slice and writes what changed. A function that throws claims nothing.
 *
 * @param context - pool, timeouts, statements
 * @param due - the time, `force`, and the limit
 * @param fn - the claim
 */
export function claimDueSlices<T>(context: SliceContext, due: DueQuery, fn: SliceFunction<T>): Promise<T[]> {
  const { statements } = context;
  const limit = Math.max(0, Math.floor(due.limit));
  // due_at is rounded up, the time down: nothing is claimed early.
  const now = Number.isFinite(due.now) ? Math.floor(due.now) : due.now > 0 ? Number.MAX_SAFE_INTEGER : 0;
  if (limit === 0) return Promise.resolve([]);
  return runTransaction(context, { operation: 'claimDue' }, false, async (tx) => {
    const [claimed] = (await tx.run([
      { ...(due.force ? statements.claimForced : statements.claimDue), values: [now, limit] },
    ])) as [QueryResult<VolumeRow & VolumeKey>];
    if (claimed.rows.length === 0) return { value: [], write: null };
    const [forks] = (await tx.run([
      {
        ...statements.loadLiveForksOf,
        values: [claimed.rows.map((r) => r.scope), claimed.rows.map((r) => r.name)],
      },
    ])) as [QueryResult<VolumeKey & { record: string }>];
    const forksOf = new Map<string, string[]>();
    for (const fork of forks.rows) {
      const id = volumeKeyString(fork);
      forksOf.set(id, [...(forksOf.get(id) ?? []), fork.record]);
    }
    const values: T[] = [];
    const writes: SliceWrite[] = [];
    for (const row of claimed.rows) {
      const key = { scope: row.scope, name: row.name };
      const stored = lockedVolume(row);
      const before = sliceOf(key, row.record, forksOf.get(volumeKeyString(key)) ?? []);
      const out = applyFunction(fn, before, key);
      const write = planWrite(before, out.slice, stored);
      if (!isEmptyWrite(write, stored)) writes.push(write);
      values.push(out.result);
    }
    return { value: values, write: writeOf(context, writes) };
  });
}
