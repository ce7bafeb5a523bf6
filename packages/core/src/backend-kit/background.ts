/**
 * Work that goes on after the call that started it returned (a delete, a rename), tracked by
 * the keys it touches so that later calls on those keys wait for it first. An entry goes when
 * its work settles; a later start on the same key replaces it and keeps its own.
 */
export class BackgroundWork {
  readonly #running = new Map<string, Promise<void>>();

  /**
   * Starts `work` and tracks it under `keys`.
   *
   * @returns the work's own promise, with its failure (the caller handles or drops it)
   */
  start<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const done = work();
    const settled: Promise<void> = done
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        for (const key of keys) if (this.#running.get(key) === settled) this.#running.delete(key);
      });
    for (const key of keys) this.#running.set(key, settled);
    return done;
  }

  /** Waits for the work on `key`, if any runs; never rejects. */
  async on(key: string): Promise<void> {
    await this.#running.get(key);
  }

  /** Waits until no work runs, including work started while waiting; never rejects. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }
}
