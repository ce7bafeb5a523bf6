import type { Backend } from '../contracts/backend.js';
import type { Store } from '../contracts/store.js';
import type { Policy } from '../model/policy.js';
import type { ForkRecord } from '../model/state.js';
import type { Emitter } from './events.js';
import type { WorkQueues } from './queues.js';

/** What the steps need from the engine. */
export interface EngineContext {
  readonly backend: Backend;
  readonly store: Store;
  readonly queues: WorkQueues;
  readonly events: Emitter;
  readonly policy: Policy;
  readonly leaseMs: number;
  /** This engine's host. */
  readonly host: string;
  clock(): number;
  newId(kind: 'fork' | 'version'): string;
  /** Undoes the links of a fork that is being abandoned by recovery (without capturing). */
  releaseLinks?(fork: ForkRecord): Promise<void>;
}
