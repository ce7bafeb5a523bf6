/**
 * `@cachevol/core`: the pure model of CI cache volumes, the `Backend` and `Store` contracts,
 * and the `CacheVolumes` engine.
 *
 * @packageDocumentation
 */

export { interpolateVariables, type PipelineEnv } from './config/interpolate.js';
export {
  expandMatrix,
  MAX_MATRIX_COMBINATIONS,
  type MatrixCombination,
  substituteMatrix,
} from './config/matrix.js';
export {
  DEFAULT_CACHE_SIZE,
  NON_COMMAND_STEP_TYPES,
  type ParsedPipeline,
  type ParsePipelineOptions,
  type PipelineStep,
  parsePipeline,
  parsePipelineOptionsSchema,
  type StepGroup,
  type VolumeRequest,
} from './config/pipeline.js';
export {
  type CacheConfig,
  type CacheFallbackConfig,
  type CacheVolumeConfig,
  cacheConfigSchema,
  cacheConfigSchemaFor,
  cacheFallbackSchema,
  cacheFallbacksSchema,
  cachePathListSchema,
  cachePathSchema,
  cachePathsSchema,
  cacheSizeSchema,
  cacheVolumeNameSchema,
  cacheVolumeSchema,
  pipelineCacheSchema,
  stepCacheSchema,
} from './config/schema.js';
// Everything else, which the `cachevol` bundle's commands but `pipeline` import alone (see runtime.ts).
export * from './runtime.js';
