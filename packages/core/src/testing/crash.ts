import type { Backend } from '../contracts/backend.js';
import type { Store } from '../contracts/store.js';

/**
 * Thrown by {@link crashable} wrappers to simulate a process dying. Everything the "process"
 * does after it fails the same way, as if the process were gone.
 */
export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash');
    this.name = 'SimulatedCrash';
  }
}

/**
 * Controls a simulated crash: after `steps` more state-changing steps (store updates and
 * backend calls that change something) have been carried out, the next one is carried out
 * and then the process "dies": that call and every later call throw {@link SimulatedCrash}.
 * Store transactions count as one step each; backend calls that change something count too.
 */
export interface CrashSwitch {
  /** Steps still allowed to complete without dying; `Infinity` for never. */
  steps: number;
  /** True once the crash happened. */
  dead: boolean;
}

const MUTATING: ReadonlySet<string> = new Set([
  'createFork',
  'forkVersion',
  'commitFork',
  'discardFork',
  'removeVersion',
]);

/**
 * Wraps a backend and a store so that they crash together as one process would. Use the
 * wrapped pair for one engine, then build a fresh engine over the *unwrapped* pair and call
 * `reconcile()` to check the repair.
 *
 * @param backend - the real backend
 * @param store - the real store
 * @param steps - state-changing steps to complete before dying (the step at this index is
 *   applied, then the crash happens)
 */
export function crashable(
  backend: Backend,
  store: Store,
  steps: number,
): { backend: Backend; store: Store; crash: CrashSwitch } {
  const crash: CrashSwitch = { steps, dead: false };
  const step = async <T>(mutates: boolean, work: () => Promise<T>): Promise<T> => {
    if (crash.dead) throw new SimulatedCrash();
    const result = await work();
    if (mutates) {
      if (crash.steps <= 0) {
        crash.dead = true;
        throw new SimulatedCrash();
      }
      crash.steps -= 1;
    }
    return result;
  };
  const wrappedBackend = new Proxy(backend, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => step(MUTATING.has(String(property)), () => value.apply(target, args));
    },
  });
  const wrappedStore: Store = {
    name: store.name,
    read: (key) => step(false, () => store.read(key)),
    transact: (key, fn, options) => step(true, () => store.transact(key, fn, options)),
    findFork: (forkId) => step(false, () => store.findFork(forkId)),
    listVolumes: (options) => step(false, () => store.listVolumes(options)),
    claimDue: (query, fn) => step(true, () => store.claimDue(query, fn)),
    pruneForks: (before) => step(true, () => store.pruneForks(before)),
    // The dying process's store handle is not the one the test goes on with: closing it is a no-op.
    close: async () => undefined,
  };
  return { backend: wrappedBackend, store: wrappedStore, crash };
}
