/**
 * Everything `@cachevol/core` exports except the pipeline `cache:` schemas and `parsePipeline`
 * (with the YAML parser it needs), which the package root adds (`index.ts`). The `cachevol`
 * command's bundle resolves `@cachevol/core` to this module for every command but
 * `pipeline`, so `run`, `attach` and the others neither load nor compile the YAML parser and
 * the config schemas (packages/cli/tsup.config.ts).
 *
 * @module
 */

export { type Keyed, nestedPairs } from './config/internal/overlaps.js';
export { expandNameTemplate, hasNameTemplate, type NameTemplateContext } from './config/name-template.js';
export {
  ABSOLUTE_PATHS_SUBDIR,
  CACHE_OS,
  type CacheOs,
  cachePathFromSubdir,
  cacheSubdir,
  expandCacheHome,
  MACOS_RESERVED_PATHS,
  MAX_CACHE_PATH_BYTES,
  MAX_PATH_SEGMENT_BYTES,
  normalizeCachePath,
  type ResolveCachePathOptions,
  type ResolvedCachePath,
  resolveCachePath,
  resolveCachePathOptionsSchema,
} from './config/paths.js';
export {
  type ConfigProblem,
  configProblemsError,
  formatYamlPath,
  type YamlPathSegment,
} from './config/problems.js';
export {
  CONTAINER_CACHE_SUFFIX,
  containerCacheVolumeName,
  GIT_MIRROR_PREFIX,
  type GitRepositoryRef,
  gitMirrorVolumeName,
} from './config/special-volumes.js';
export type {
  Backend,
  BackendCapabilities,
  BackendEntry,
  EntryKind,
  ForkMount,
  ForkOptions,
  Progress,
  ReceiveOptions,
  SendOptions,
  TransferFormat,
  Usage,
  VersionStream,
} from './contracts/backend.js';
export type { FileAccess } from './contracts/file-access.js';
export type { ObjectStore } from './contracts/object-store.js';
export {
  DEFAULT_PAGE_SIZE,
  type DueQuery,
  type ListVolumesOptions,
  type SliceFunction,
  type SliceSchedule,
  type SliceUpdate,
  type Store,
  type TransactOptions,
  type VolumePage,
} from './contracts/store.js';
export {
  type Agent,
  type AgentEngine,
  type HttpSourceOptions,
  httpVersionSource,
  type ServeOptions,
  serveVersions,
} from './engine/agent.js';
export {
  CacheVolumes,
  type CacheVolumesOptions,
  type GcOptions,
  type Lookup,
  type LookupOptions,
  type ObjectVersionOptions,
  type ReconcileOptions,
} from './engine/cache-volumes.js';
export type { AbandonReason, CacheVolumeEvents, Listener } from './engine/events.js';
export {
  DEFAULT_BYTES_PER_SECOND,
  DEFAULT_SETUP_MS,
  DEFAULT_TRANSFER_BUDGET_MS,
  type FleetOptions,
} from './engine/fleet.js';
export { type ForkActions, ForkHandle } from './engine/fork-handle.js';
export {
  LINK_METHODS,
  type LinkOptions,
  type LinkResult,
  linkOptionsSchema,
  type UnlinkResult,
} from './engine/linking/options.js';
export type { RestoreReport, UploadReport } from './engine/objects.js';
export {
  type AttachOptions,
  attachOptionsSchema,
  DEFAULT_KEEP_ENDED_MS,
  DEFAULT_LEASE_MS,
  type EngineSettings,
  engineSettingsSchema,
  type FallbackVolume,
  fallbackVolumeSchema,
  MAX_FALLBACKS,
  type ObjectTierOptions,
  objectTierSchema,
} from './engine/options.js';
export { emptyReconcileReport } from './engine/recovery.js';
export type { FinishOutcome, ForkInfo, GcReport, ReconcileReport } from './engine/reports.js';
export type { OpenedVersion, PullReport, SendRequest, VersionSource } from './engine/transfer.js';
export {
  CacheVolumeError,
  type CacheVolumeErrorOptions,
  CommandFailedError,
  type CommandFailedErrorOptions,
  type CommandFailure,
  type ErrorCode,
  isCacheVolumeError,
} from './errors.js';
export {
  type Bill,
  type BillInput,
  type BuildUsage,
  estimateBill,
  type Prices,
  type VolumeUsage,
} from './model/billing.js';
export {
  type BorrowInput,
  borrowFallback,
  isBorrowed,
  releaseBorrow,
  renewBorrow,
} from './model/fallback.js';
export { countAttach, countsWithin, HISTORY_HOURS, HOUR_MS } from './model/history.js';
export {
  type LegacyStateDocument,
  legacyStateProblem,
  slicesFromLegacyState,
} from './model/legacy-state.js';
export {
  abandonReceive,
  type BeginReceive,
  beginReceive,
  type CompleteReceive,
  completeReceive,
  dropCopy,
  expiredReceives,
  leftCopies,
  takeOverReceive,
} from './model/locations.js';
export {
  beginDeleteObjects,
  beginTemporaryBase,
  beginUpload,
  completeDeleteObjects,
  completeUpload,
  DEFAULT_FULL_EVERY,
  endTemporaryBase,
  expiredTemporaryBases,
  failUpload,
  hasIncrementals,
  type NewUpload,
  neededObjects,
  objectLineage,
  planUpload,
  type RestoreBase,
  type RestorePlan,
  renewUpload,
  restorePlan,
  takeOverTemporaryBase,
  type UploadPlan,
  unneededObjects,
} from './model/objects.js';
export {
  type AttachPlan,
  estimateTransfer,
  type FleetView,
  heldBases,
  type PlacementSource,
  planAttach,
  type TransferEstimate,
  UNKNOWN_CHANGE_SHARE,
} from './model/placement.js';
export { DAY_MS, DEFAULT_POLICY, type Policy, resolvePolicy } from './model/policy.js';
export {
  isRemovable,
  type PlannedRemoval,
  planRetention,
  type RemovalReason,
  type RetentionPlanner,
  retentionPlanner,
} from './model/retention.js';
export { isDue, isIntent, sliceSchedule } from './model/schedule.js';
export {
  headOf,
  isExpired,
  type Selection,
  type SelectionReason,
  type SelectionRequest,
  selectParent,
} from './model/selection.js';
export {
  type AttachCounts,
  type AttachResult,
  COMMIT_MODES,
  type CommitMode,
  compareVersionOrder,
  emptySlice,
  type ForkLink,
  type ForkRecord,
  type ForkSource,
  type ForkState,
  type HourCounts,
  isLive,
  LIVE_FORK_STATES,
  type LinkMethod,
  type ObjectCopy,
  type ObjectState,
  type TemporaryBase,
  type VersionRecord,
  type VolumeKey,
  type VolumeRecord,
  type VolumeSlice,
  versionOrder,
  volumeKeyString,
} from './model/state.js';
export { sliceStats, type VolumeStats, volumeStats, type WindowStats } from './model/stats.js';
export {
  type AttachInput,
  beginAbandon,
  beginAttach,
  beginCommit,
  beginRemoveVersion,
  type Claim,
  type ClaimInput,
  type CompleteCommitOptions,
  claimDue,
  completeAbandon,
  completeAttach,
  completeCommit,
  completeRemoveVersion,
  dependents,
  dropEmptyVolume,
  getFork,
  type RemovingHost,
  recordLinks,
  renewLease,
  type VersionRef,
} from './model/transitions.js';
export { MAX_ID_LENGTH, MAX_NAME_LENGTH, validateId, validateLabel, validateName } from './names.js';
export { parseOptions } from './options.js';
export {
  DEFAULT_SIZE_BYTES,
  forkCapacity,
  formatSize,
  GIB,
  MAX_SIZE_GB,
  MIN_SIZE_GB,
  parseSize,
} from './size.js';
export { createMemoryObjectStore, type MemoryObjectStore } from './store/memory-object-store.js';
export { createMemoryStore } from './store/memory-store.js';
export { checkSliceUpdate, decodeCursor, encodeCursor } from './store/slice-io.js';
