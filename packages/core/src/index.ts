/**
 * `@cachevol/core`: the pure model of CI cache volumes, the `Backend` and `Store` contracts,
 * and the `CacheVolumes` engine.
 *
 * @packageDocumentation
 */

export {
  ABSOLUTE_PATHS_SUBDIR,
  CACHE_OS,
  type CacheConfig,
  type CacheOs,
  type CacheVolumeConfig,
  CONTAINER_CACHE_SUFFIX,
  type ConfigProblem,
  cacheConfigSchema,
  cacheConfigSchemaFor,
  cachePathFromSubdir,
  cachePathListSchema,
  cachePathSchema,
  cachePathsSchema,
  cacheSizeSchema,
  cacheSubdir,
  cacheVolumeNameSchema,
  cacheVolumeSchema,
  configProblemsError,
  containerCacheVolumeName,
  DEFAULT_CACHE_SIZE,
  formatYamlPath,
  GIT_MIRROR_PREFIX,
  type GitRepositoryRef,
  gitMirrorVolumeName,
  MACOS_RESERVED_PATHS,
  MAX_CACHE_PATH_BYTES,
  MAX_PATH_SEGMENT_BYTES,
  NON_COMMAND_STEP_TYPES,
  normalizeCachePath,
  type ParsedPipeline,
  type ParsePipelineOptions,
  type PipelineStep,
  parsePipeline,
  parsePipelineOptionsSchema,
  pipelineCacheSchema,
  type ResolveCachePathOptions,
  type ResolvedCachePath,
  resolveCachePath,
  resolveCachePathOptionsSchema,
  type StepGroup,
  stepCacheSchema,
  type VolumeRequest,
  type YamlPathSegment,
} from './config/index.js';
export type {
  Backend,
  BackendCapabilities,
  BackendEntry,
  EntryKind,
  ForkMount,
  ForkOptions,
  Progress,
  Usage,
} from './contracts/backend.js';
export { createMemoryStore, type Store, type StoreUpdate } from './contracts/store.js';
export { CacheVolumes, type CacheVolumesOptions, type ReconcileOptions } from './engine/cache-volumes.js';
export type { AbandonReason, CacheVolumeEvents, Listener } from './engine/events.js';
export { ForkHandle } from './engine/fork-handle.js';
export {
  type AttachOptions,
  attachOptionsSchema,
  DEFAULT_KEEP_ENDED_MS,
  DEFAULT_LEASE_MS,
  type EngineSettings,
  engineSettingsSchema,
} from './engine/options.js';
export type { FinishOutcome, ForkInfo, GcReport, ReconcileReport } from './engine/reports.js';
export {
  CacheVolumeError,
  type CacheVolumeErrorOptions,
  CommandFailedError,
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
export { DAY_MS, DEFAULT_POLICY, type Policy, resolvePolicy } from './model/policy.js';
export {
  expiredForks,
  isRemovable,
  type PlannedRemoval,
  planRetention,
  type RemovalReason,
} from './model/retention.js';
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
  emptyState,
  type ForkRecord,
  type ForkState,
  isLive,
  LIVE_FORK_STATES,
  type State,
  type VersionRecord,
  type VolumeKey,
  type VolumeRecord,
  volumeKeyString,
} from './model/state.js';
export { type VolumeStats, volumeStats } from './model/stats.js';
export {
  type AttachInput,
  beginAbandon,
  beginAttach,
  beginCommit,
  beginRemoveVersion,
  completeAbandon,
  completeAttach,
  completeCommit,
  completeRemoveVersion,
  dependents,
  dropEmptyVolume,
  getFork,
  pruneEndedForks,
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
