/**
 * The action's post step: finishes the fork the main step attached, by the job's status as the
 * `job-status` input carries it (its default, `${{ job.status }}`, is evaluated when the post
 * step runs): `success` commits (as the commit mode says), anything else abandons. It never
 * fails the job: a fork it cannot finish is a warning, and `cachevol gc` ends it once its lease
 * runs out.
 */
import { failureOf, runCachevol } from './cachevol.js';
import { exitCodeFor, STATE } from './inputs.js';
import { annotation, type Env, getInput, getState } from './runner-files.js';

/** What `cachevol finish --json` prints. */
interface Finished {
  forkId: string;
  action: 'committed' | 'abandoned' | 'skipped';
  versionId: string | null;
  ms: number;
}

/**
 * Runs the post step.
 *
 * @param env - the post step's environment (`STATE_*` from the main step, `INPUT_*` re-evaluated)
 * @returns the step's exit code (always 0)
 */
export async function post(env: Env): Promise<number> {
  const forkId = getState(env, STATE.forkId);
  if (!forkId) {
    process.stdout.write('cachevol: nothing attached by the main step, nothing to finish\n');
    return 0;
  }
  const command = getState(env, STATE.command) || getInput(env, 'cachevol') || 'cachevol';
  const status = getInput(env, 'job-status');
  const exitCode = exitCodeFor(status);
  const done = await runCachevol(command, ['finish', forkId, '--exit-code', String(exitCode), '--json'], env);
  if (done.code !== 0) {
    const why = failureOf(done);
    process.stdout.write(
      annotation('warning', `cachevol: fork ${forkId} was not finished (${why}); cachevol gc ends it.`),
    );
    return 0;
  }
  const finished = JSON.parse(done.stdout) as Finished;
  process.stdout.write(
    `cachevol: fork ${forkId} ${finished.action}${finished.versionId ? ` as ${finished.versionId}` : ''} (job status ${status || 'unknown'}) in ${finished.ms} ms\n`,
  );
  return 0;
}

post(process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stdout.write(annotation('warning', `cachevol action: ${String(error)}`));
  },
);
