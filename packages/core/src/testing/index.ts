/**
 * `@cachevol/core/testing`: fast-check arbitraries for the model, named property assertions,
 * the backend conformance suite, and the model-based harness for `CacheVolumes`. Needs
 * `vitest` and `fast-check` (peer dependencies).
 *
 * @packageDocumentation
 */
export {
  arbBadSizeText,
  arbHost,
  arbId,
  arbNameSegment,
  arbPolicy,
  arbScope,
  arbSizeText,
  arbSlices,
  arbTime,
  arbVolume,
  arbVolumeName,
} from './arbitraries.js';
export {
  type BackendUnderTest,
  type ConformanceContext,
  type ConformanceOptions,
  describeBackendConformance,
  HOSTILE_IDS,
} from './conformance.js';
export { type CrashSwitch, crashable, SimulatedCrash } from './crash.js';
export { type FileAccess, nodeFileAccess, noise } from './file-access.js';
export {
  type AvailabilityOptions,
  decideAvailability,
  describeIfAvailable,
  type GateDecision,
  itIfAvailable,
  type Unavailable,
} from './gate.js';
export {
  assertAbandonChangesNothing,
  assertCapacityFollowsSizeMath,
  assertCommitsDurable,
  assertCopiesCountedOnce,
  assertHeadIsLastCommitted,
  assertLiveForksHaveBases,
  assertReconciled,
  assertRetentionSparesLiveForks,
  assertSelectionValid,
  assertStateInvariants,
  assertVersionsInCommitOrder,
  type CommitRecord,
  InvariantViolation,
} from './invariants.js';
export { checkEngineModel, type EngineModelOptions } from './model-harness.js';
export { DEFAULT_SEED_LOG, propertyParameters, seedLogPlugin } from './parameters.js';
export { readAllSlices } from './read-all.js';
export {
  counterVolume,
  describeStoreConformance,
  increment,
  type StoreConformanceOptions,
  type StoreUnderTest,
  testFork,
} from './store-conformance.js';
export {
  runStoreWorkers,
  type StalledWriter,
  type StoreWorker,
  startStalledWriter,
  type WorkerResult,
  type WorkerTask,
} from './store-workers.js';
