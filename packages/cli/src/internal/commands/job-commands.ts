import type { CommandSpec } from '../spec.js';
import { JSON_OPTION } from './shared-options.js';

const JOB = [{ name: 'JOB', description: 'the job label given to `cachevol attach --job`' }];

const DETAILS =
  'Ends every fork that `cachevol attach --job JOB` attached and that is still attached, on\n' +
  "this root's store: for CI hooks that run in separate processes and keep no fork ids\n" +
  '(a Buildkite post-command or pre-exit hook). A job with no attached fork is not an error.';

/** `cachevol finish-job`. */
export const finishJobCommand: CommandSpec = {
  name: 'finish-job',
  summary: "end a job's attached forks by its exit code: commit on 0, abandon otherwise",
  positionals: JOB,
  options: {
    'exit-code': { type: 'string', value: 'N', description: "the job's exit code (required)" },
    ...JSON_OPTION,
  },
  details: DETAILS,
  example: 'cachevol finish-job "buildkite-$BUILDKITE_JOB_ID" --exit-code "$BUILDKITE_COMMAND_EXIT_STATUS"',
  load: () => import('../actions/job-commands.js').then((m) => m.finishJob),
};

/** `cachevol abandon-job`. */
export const abandonJobCommand: CommandSpec = {
  name: 'abandon-job',
  summary: "abandon a job's forks that are still attached (a cancelled job)",
  positionals: JOB,
  options: JSON_OPTION,
  details: DETAILS,
  example: 'cachevol abandon-job "buildkite-$BUILDKITE_JOB_ID"',
  load: () => import('../actions/job-commands.js').then((m) => m.abandonJob),
};
