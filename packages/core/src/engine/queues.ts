import PQueue from 'p-queue';
import type { VolumeKey } from '../model/state.js';
import { volumeKeyString } from '../model/state.js';

/**
 * The engine's two kinds of queue: one per volume, so this process runs one operation on a
 * volume at a time (the store's transactions keep other processes consistent), and one for
 * backend work, so heavy copies and commands across volumes are bounded.
 */
export class WorkQueues {
  readonly #volumes = new Map<string, PQueue>();
  readonly #backend: PQueue;

  /**
   * @param concurrency - backend operations run at once
   */
  constructor(concurrency: number) {
    this.#backend = new PQueue({ concurrency });
  }

  /**
   * Runs `work` after every earlier operation of this process on the same volume.
   *
   * @param key - the volume
   * @param work - the operation
   */
  onVolume<T>(key: VolumeKey, work: () => Promise<T>): Promise<T> {
    const id = volumeKeyString(key);
    let queue = this.#volumes.get(id);
    if (!queue) {
      const created = new PQueue({ concurrency: 1 });
      created.on('idle', () => {
        if (this.#volumes.get(id) === created) this.#volumes.delete(id);
      });
      this.#volumes.set(id, created);
      queue = created;
    }
    return queue.add(work, { throwOnTimeout: true });
  }

  /**
   * Runs a backend call within the backend concurrency bound.
   *
   * @param work - the call
   */
  backend<T>(work: () => Promise<T>): Promise<T> {
    return this.#backend.add(work, { throwOnTimeout: true });
  }

  /** Waits until every queued operation has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.#volumes.values()].map((q) => q.onIdle()));
    await this.#backend.onIdle();
  }
}
