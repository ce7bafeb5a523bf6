import { PIPELINE_SHELL } from '../pipeline-shell.js';
import type { CommandSpec, OptionSpec } from '../spec.js';
import { ATTACH_OPTIONS, JOB_OPTIONS, JSON_OPTION, PROGRAM_OPTIONS } from './shared-options.js';

const FILE = [{ name: 'FILE', description: 'the pipeline.yml to read' }];

/** How the file is read, for both commands' help. */
const READING =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the help spells ${VAR} literally
  "In cache paths, names and sizes, $VAR, ${VAR} and ${VAR:-default} come from cachevol's environment\n" +
  "(and the pipeline's top-level env:), ~ from its HOME; a matrix step is one step per combination.";

const PIPELINE_OPTIONS: Record<string, OptionSpec> = {
  slug: {
    type: 'string',
    value: 'SLUG',
    description:
      "the pipeline slug: the default volume name and scope (default: the working directory's name)",
  },
  ...ATTACH_OPTIONS,
  scope: { type: 'string', value: 'SCOPE', description: "the volumes' scope (default: the pipeline slug)" },
};

/** `cachevol pipeline plan`. */
export const pipelinePlanCommand: CommandSpec = {
  name: 'pipeline plan',
  summary: 'show each step of a pipeline.yml with its volumes, paths and what an attach would get now',
  positionals: FILE,
  options: { ...PIPELINE_OPTIONS, ...JSON_OPTION },
  details: READING,
  example: 'cachevol pipeline plan .buildkite/pipeline.yml --slug my-app',
  load: () => import('../actions/pipeline.js').then((m) => m.pipelinePlan),
};

/** `cachevol pipeline run`. */
export const pipelineRunCommand: CommandSpec = {
  name: 'pipeline run',
  summary: 'run the command steps of a pipeline.yml locally, in order, with their caches attached',
  positionals: FILE,
  options: { ...PIPELINE_OPTIONS, ...JOB_OPTIONS, ...PROGRAM_OPTIONS },
  details:
    `Each step's volumes are attached and their paths linked into the working directory; each line of\n` +
    `its command(s) then runs as \`${PIPELINE_SHELL} -c LINE\` (the documented meaning of a pipeline's\n` +
    '`command:`, as a CI agent runs it; cachevol adds nothing to the line), stopping at the first\n' +
    'failure. Exit 0 commits the volumes; anything else abandons them and stops the pipeline with\n' +
    "that step's exit code. Step `env:`, plugins, agents and wait/block semantics are not applied.\n" +
    READING,
  example: 'cachevol pipeline run .buildkite/pipeline.yml --slug my-app',
  load: () => import('../actions/pipeline.js').then((m) => m.pipelineRun),
};
