/** A set-up step run once and shared by every caller; see {@link once}. */
export interface Once<T> {
  /** The step's result: the first call runs it, later calls share its promise. */
  (): Promise<T>;
  /** Forgets the result, so that the next call runs the step again (what it made is gone). */
  reset(): void;
}

/**
 * Runs `step` on first use and shares its promise (a backend's layout, checked and made once
 * per backend object). A failure is not kept: the next call tries again.
 *
 * @param step - the set-up work
 */
export function once<T>(step: () => Promise<T>): Once<T> {
  let running: Promise<T> | undefined;
  const get = (): Promise<T> => {
    running ??= step().catch((error: unknown) => {
      running = undefined;
      throw error;
    });
    return running;
  };
  return Object.assign(get, {
    reset: () => {
      running = undefined;
    },
  });
}
