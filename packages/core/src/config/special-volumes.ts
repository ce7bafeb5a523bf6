import { CacheVolumeError } from '../errors.js';
import { validateName } from '../names.js';
import { describeValue } from './internal/describe.js';

/** The suffix of every container cache volume name: `<pipeline-slug>/container-cache`. */
export const CONTAINER_CACHE_SUFFIX = 'container-cache';
/** The prefix of every git mirror volume name: `buildkite-git-mirror-<account>-<repository>`. */
export const GIT_MIRROR_PREFIX = 'buildkite-git-mirror-';

/**
 * The name of a pipeline's container cache volume (Docker images kept between builds; one per
 * pipeline): the pipeline slug, a slash, then `container-cache`.
 *
 * @param pipelineSlug - the pipeline's slug, a valid volume name
 * @returns `<pipelineSlug>/container-cache`
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` when the slug is not a valid name
 *
 * @example
 * ```ts
 * containerCacheVolumeName('my-pipeline') // 'my-pipeline/container-cache'
 * ```
 */
export function containerCacheVolumeName(pipelineSlug: string): string {
  validateName(pipelineSlug, 'pipeline slug');
  return validateName(`${pipelineSlug}/${CONTAINER_CACHE_SUFFIX}`, 'container cache volume name');
}

/** Identifies a repository on a hosted git service, for {@link gitMirrorVolumeName}. */
export interface GitRepositoryRef {
  /** The account (user or organisation) that owns the repository, e.g. `My-Account`. */
  account: string;
  /** The repository name, e.g. `my-repository` (a trailing `.git` is dropped). */
  repository: string;
}

function sanitise(value: unknown, what: string): string {
  const clean =
    typeof value === 'string'
      ? value
          .toLowerCase()
          .replace(/[^a-z0-9._-]+/g, '-')
          .replace(/-{2,}/g, '-')
          .replace(/^[-._]+|[-._]+$/g, '')
      : '';
  if (clean === '') {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `Invalid ${what} ${describeValue(value)}: it must contain at least one letter (a-z) or digit.`,
      { details: { [what]: value } },
    );
  }
  return clean;
}

/**
 * The name of a repository's git mirror volume (a clone kept between builds; one per
 * repository): `buildkite-git-mirror-<account>-<repository>`.
 *
 * Each part is made safe: lowercased, a trailing `.git` dropped from the repository, every run
 * of characters outside `a-z`, `0-9`, `.`, `_`, `-` replaced by one `-`, repeated `-` collapsed,
 * and leading and trailing `-`, `.`, `_` trimmed.
 *
 * @param ref - the account and repository
 * @returns e.g. `buildkite-git-mirror-my-account-my-repository`
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` when a part has no letters or digits left,
 *   or the name is longer than a volume name may be
 *
 * @example
 * ```ts
 * gitMirrorVolumeName({ account: 'My Account', repository: 'my_repo.git' })
 * // 'buildkite-git-mirror-my-account-my_repo'
 * ```
 */
export function gitMirrorVolumeName(ref: GitRepositoryRef): string {
  const account = sanitise(ref?.account, 'account');
  const repository = sanitise(
    typeof ref?.repository === 'string' ? ref.repository.replace(/\.git$/i, '') : ref?.repository,
    'repository',
  );
  return validateName(`${GIT_MIRROR_PREFIX}${account}-${repository}`, 'git mirror volume name');
}
