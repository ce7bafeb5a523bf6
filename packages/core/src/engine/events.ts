import type { CacheVolumeError } from '../errors.js';
import type { RemovalReason } from '../model/retention.js';
import type { Selection } from '../model/selection.js';
import type { ForkRecord, VersionRecord, VolumeKey } from '../model/state.js';
import type { VersionRef } from '../model/transitions.js';

/** Why a fork was abandoned. */
export type AbandonReason =
  | 'requested'
  | 'failed'
  | 'never'
  | 'unchanged'
  | 'not-missing'
  | 'lease-expired'
  | 'attach-failed'
  | 'commit-failed'
  | 'reconcile';

/** The events {@link CacheVolumes} emits, by name. */
export interface CacheVolumeEvents {
  /** A fork was attached. */
  attach: { fork: ForkRecord; selection: Selection };
  /** A fork was committed and is now the head. */
  commit: { fork: ForkRecord; version: VersionRecord };
  /** A fork was abandoned (no version changed). */
  abandon: { fork: ForkRecord; reason: AbandonReason };
  /**
   * A version was removed: by retention (`expired`, `superseded`, `capacity`), on request, as a
   * leftover, or because its data was found gone when a fork of it was made (`lost`).
   */
  remove: { version: VersionRef; reason: RemovalReason | 'requested' | 'leftover' | 'lost' };
  /**
   * Something went wrong that the call it happened in did not fail for (the cache is
   * best-effort): for example removing a superseded version after a commit.
   */
  warning: { message: string; error: CacheVolumeError };
  /**
   * A version this host lacked arrived from another host or the object store (`from`: the host,
   * or `objects`), before an attach (`pull`) or in the background (`prefetch`).
   */
  transfer: {
    volume: VolumeKey;
    versionId: string;
    from: string;
    action: 'pull' | 'prefetch';
    bytes: number;
    baseId: string | null;
    ms: number;
  };
  /** A long backend operation made progress. */
  progress: { forkId: string; doneBytes: number; totalBytes: number | null };
}

/** A listener for event `E`. */
export type Listener<E extends keyof CacheVolumeEvents> = (event: CacheVolumeEvents[E]) => void;

/** A minimal typed event emitter; listener errors are caught so they never break the engine. */
export class Emitter {
  readonly #listeners = new Map<keyof CacheVolumeEvents, Set<Listener<never>>>();

  /**
   * Subscribes to an event.
   *
   * @param event - the event name
   * @param listener - called with the event's payload
   * @returns a function that unsubscribes
   */
  on<E extends keyof CacheVolumeEvents>(event: E, listener: Listener<E>): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    this.#listeners.set(event, set);
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /**
   * Calls every listener of `event`.
   *
   * @param event - the event name
   * @param payload - its payload
   */
  emit<E extends keyof CacheVolumeEvents>(event: E, payload: CacheVolumeEvents[E]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch {
        // a listener's failure is its own business
      }
    }
  }
}
