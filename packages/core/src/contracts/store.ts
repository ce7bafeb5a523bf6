import { CacheVolumeError } from '../errors.js';
import { emptyState, type State } from '../model/state.js';

/**
 * Where the model's state lives. Implementations: {@link createMemoryStore} (one process), a
 * file store (one host, several processes), and later a database (fleets).
 *
 * `update` is an atomic read-modify-write: the function sees the latest state, and its result
 * replaces it with no other update in between, across every process sharing the store. If the
 * function throws, nothing changes.
 */
export interface Store {
  /** Reads the current state. */
  read(): Promise<State>;
  /**
   * Atomically replaces the state with what `fn` returns.
   *
   * @param fn - gets the current state, returns the next state and a value to pass back; must
   *   be pure (it may be retried)
   * @returns the value `fn` returned
   */
  update<T>(fn: (state: State) => StoreUpdate<T>): Promise<T>;
}

/** What a {@link Store.update} function returns. */
export interface StoreUpdate<T> {
  /** The next state (return the same object to change nothing). */
  state: State;
  /** A value for the caller. */
  result: T;
}

/**
 * A store in process memory. Updates run one at a time; each sees a deep copy, so a throwing
 * update leaves nothing half-applied.
 *
 * @param initial - a starting state (copied)
 */
export function createMemoryStore(initial: State = emptyState()): Store {
  let state = structuredClone(initial);
  let tail: Promise<unknown> = Promise.resolve();
  return {
    async read() {
      await tail.catch(() => undefined);
      return structuredClone(state);
    },
    update<T>(fn: (state: State) => StoreUpdate<T>): Promise<T> {
      const run = tail
        .catch(() => undefined)
        .then(() => {
          const out = fn(structuredClone(state));
          if (!out || typeof out !== 'object' || !('state' in out)) {
            throw new CacheVolumeError('INTERNAL', 'Store update function must return { state, result }.');
          }
          state = structuredClone(out.state);
          return out.result;
        });
      tail = run;
      return run;
    },
  };
}
