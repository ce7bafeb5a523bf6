import { basename } from 'node:path';
import { type Env, getBooleanInput, getInput, getMultilineInput } from './runner-files.js';

/** The names under which the main step saves what the post step needs. */
export const STATE = { forkId: 'fork-id', command: 'cachevol' } as const;

/** What the main step attaches, read from the action's inputs and the runner's environment. */
export interface AttachRequest {
  /** The `cachevol` executable: a path, or a name looked up on PATH. */
  command: string;
  /** The volume name (default: the repository's name, as a pipeline slug is on Buildkite). */
  name: string;
  /** The scope (default: `owner/repository`). */
  scope: string;
  /** The cache paths, relative to the working directory or absolute. */
  paths: string[];
  /** Requested size, `Ng`; empty for the CLI's default (20g). */
  size: string;
  /** The commit mode. */
  commit: string;
  /** `NAME[@SCOPE]` volumes to fork on a miss, in order. */
  fallbacks: string[];
  /** Fail the step when there is no usable version. */
  failOnMiss: boolean;
  /** The directory relative paths are linked into. */
  workdir: string;
  /** The fork's lease: it must outlive the job, since no step renews it. */
  lease: string;
  /** The job label the fork is recorded with. */
  job: string;
}

/**
 * Reads the main step's inputs, with the defaults the runner's environment gives.
 *
 * @param env - the step's environment
 * @param cwd - the step's working directory (used when `GITHUB_WORKSPACE` is not set)
 * @throws TypeError for a missing `paths` input or a malformed boolean
 */
export function readAttachRequest(env: Env, cwd: string): AttachRequest {
  const paths = getMultilineInput(env, 'paths');
  if (paths.length === 0) throw new TypeError('Input "paths" is required: one cache path per line.');
  const repository = env.GITHUB_REPOSITORY ?? '';
  return {
    command: getInput(env, 'cachevol') || 'cachevol',
    name: getInput(env, 'name') || basename(repository) || basename(cwd),
    scope: getInput(env, 'scope') || repository || 'default',
    paths,
    size: getInput(env, 'size'),
    commit: getInput(env, 'commit'),
    fallbacks: getMultilineInput(env, 'fallbacks'),
    failOnMiss: getBooleanInput(env, 'fail-on-miss'),
    workdir: getInput(env, 'working-directory') || env.GITHUB_WORKSPACE || cwd,
    lease: getInput(env, 'lease') || '6h',
    job: [
      'github',
      repository,
      env.GITHUB_RUN_ID ?? '0',
      env.GITHUB_RUN_ATTEMPT ?? '1',
      env.GITHUB_JOB ?? 'job',
    ].join(':'),
  };
}

/**
 * The `cachevol attach` command line for a request (the arguments after the executable).
 *
 * @param request - what to attach
 */
export function attachArgs(request: AttachRequest): string[] {
  return [
    'attach',
    request.name,
    ...request.paths.flatMap((path) => ['--path', path]),
    '--scope',
    request.scope,
    ...(request.size ? ['--size', request.size] : []),
    ...(request.commit ? ['--commit', request.commit] : []),
    ...request.fallbacks.flatMap((fallback) => ['--fallback', fallback]),
    '--workdir',
    request.workdir,
    '--job',
    request.job,
    '--lease',
    request.lease,
    '--json',
  ];
}

/**
 * The exit code the post step finishes the fork with: 0 when the job's status is `success`,
 * 1 otherwise (`failure`, `cancelled`, or no status at all).
 *
 * @param status - `job.status` as the post step's `job-status` input received it
 */
export function exitCodeFor(status: string): number {
  return status === 'success' ? 0 : 1;
}
