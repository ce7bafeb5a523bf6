/**
 * Pipeline `cache:` configuration: schemas, `parsePipeline`, cache path resolution and the names
 * of the special volumes. Re-exported from the package root.
 *
 * @module
 */

export { interpolateVariables, type PipelineEnv } from './interpolate.js';
export {
  expandMatrix,
  MAX_MATRIX_COMBINATIONS,
  type MatrixCombination,
  substituteMatrix,
} from './matrix.js';
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
} from './paths.js';
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
} from './pipeline.js';
export { type ConfigProblem, configProblemsError, formatYamlPath, type YamlPathSegment } from './problems.js';
export {
  type CacheConfig,
  type CacheVolumeConfig,
  cacheConfigSchema,
  cacheConfigSchemaFor,
  cachePathListSchema,
  cachePathSchema,
  cachePathsSchema,
  cacheSizeSchema,
  cacheVolumeNameSchema,
  cacheVolumeSchema,
  pipelineCacheSchema,
  stepCacheSchema,
} from './schema.js';
export {
  CONTAINER_CACHE_SUFFIX,
  containerCacheVolumeName,
  GIT_MIRROR_PREFIX,
  type GitRepositoryRef,
  gitMirrorVolumeName,
} from './special-volumes.js';
