/**
 * Runs work for one key at a time, in call order; different keys run concurrently. The store
 * queues transactions per volume in process, so that many concurrent calls on one busy volume
 * wait here, not on its row lock with a pooled connection each, which would starve every other
 * volume of connections.
 */
export function volumeQueue(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const next = (tails.get(key) ?? Promise.resolve()).then(work);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  };
}
