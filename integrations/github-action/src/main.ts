/**
 * The action's main step: attaches a fork of the volume with `cachevol attach`, links its paths
 * into the workspace, and saves the fork id for the post step. Cache trouble never fails the
 * step (the job runs uncached, with a warning), unless `fail-on-miss` is set; bad inputs do.
 */
import { failureOf, runCachevol, USAGE_EXIT_CODE } from './cachevol.js';
import { attachArgs, readAttachRequest, STATE } from './inputs.js';
import { annotation, type Env, exportVariable, saveState, setOutput } from './runner-files.js';

/** What `cachevol attach --json` prints (the fields the action uses). */
interface Attached {
  forkId: string;
  scope: string;
  name: string;
  result: 'hit' | 'stale' | 'miss';
  baseVersionId: string | null;
  source: { scope: string; name: string; versionId: string; result: string } | null;
}

function fail(message: string): number {
  process.stdout.write(annotation('error', message));
  return 1;
}

function outputs(env: Env, result: string, forkId: string): void {
  setOutput(env, 'result', result);
  setOutput(env, 'cache-hit', String(result === 'hit'));
  setOutput(env, 'fork-id', forkId);
}

/**
 * Runs the main step.
 *
 * @param env - the step's environment
 * @param cwd - its working directory
 * @returns the step's exit code
 */
export async function main(env: Env, cwd: string): Promise<number> {
  let request: ReturnType<typeof readAttachRequest>;
  try {
    request = readAttachRequest(env, cwd);
  } catch (error) {
    return fail((error as Error).message);
  }
  saveState(env, STATE.command, request.command);
  const label = `${request.scope}/${request.name}`;
  const attached = await runCachevol(request.command, attachArgs(request), env);
  if (attached.code === USAGE_EXIT_CODE) return fail(`${label}: ${failureOf(attached)}`);
  if (attached.code !== 0) {
    const why = attached.error
      ? `${request.command} could not be started (${attached.error.message}); install @cachevol/cli on the runner or set the "cachevol" input`
      : failureOf(attached);
    outputs(env, 'miss', '');
    if (request.failOnMiss) return fail(`${label}: not cached: ${why}, and fail-on-miss is set.`);
    process.stdout.write(annotation('warning', `${label}: not cached this run: ${why}.`));
    return 0;
  }
  const fork = JSON.parse(attached.stdout) as Attached;
  if (request.failOnMiss && fork.result === 'miss' && fork.source === null) {
    await runCachevol(request.command, ['abandon', fork.forkId], env);
    outputs(env, 'miss', '');
    return fail(`${label}: no usable version (a miss), and fail-on-miss is set.`);
  }
  saveState(env, STATE.forkId, fork.forkId);
  outputs(env, fork.result, fork.forkId);
  exportVariable(env, 'CACHEVOL_FORK_ID', fork.forkId);
  exportVariable(env, 'CACHEVOL_RESULT', fork.result);
  const from = fork.source
    ? `, restored from ${fork.source.scope}/${fork.source.name} (${fork.source.versionId})`
    : fork.baseVersionId
      ? ` (${fork.baseVersionId})`
      : '';
  process.stdout.write(`cachevol: ${label}: ${fork.result}${from}, fork ${fork.forkId}\n`);
  return 0;
}

main(process.env, process.cwd()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = fail(`cachevol action: ${(error as Error).stack ?? String(error)}`);
  },
);
