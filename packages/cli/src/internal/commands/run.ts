import type { CommandSpec } from '../spec.js';
import { ATTACH_OPTIONS, FALLBACK_OPTION, JOB_OPTIONS, PROGRAM_OPTIONS } from './shared-options.js';

/** `cachevol run`. */
export const runCommand: CommandSpec = {
  name: 'run',
  summary: 'attach a volume, run a command with its cache paths linked, commit on exit 0, abandon otherwise',
  positionals: [],
  command: true,
  options: {
    cache: {
      type: 'string',
      short: 'c',
      multiple: true,
      value: 'PATH',
      description: 'a cache path to link (repeatable)',
    },
    name: {
      type: 'string',
      value: 'NAME',
      description:
        'the volume name (default: the working directory\'s name); {{ checksum "FILE" }}, {{ os }} and {{ arch }} are expanded',
    },
    'container-cache': {
      type: 'string',
      value: 'SLUG',
      description:
        "attach the pipeline's container cache volume SLUG/container-cache and run a Docker engine on it for the command (DOCKER_HOST); Linux, root, docker.io",
    },
    dockerd: {
      type: 'string',
      value: 'PROGRAM',
      env: 'CACHEVOL_DOCKERD',
      description: 'the dockerd program for --container-cache (default: dockerd on PATH)',
    },
    ...ATTACH_OPTIONS,
    ...FALLBACK_OPTION,
    ...JOB_OPTIONS,
    ...PROGRAM_OPTIONS,
  },
  details:
    'The command runs directly (no shell) with stdin/stdout/stderr inherited, in the working\n' +
    "directory, in a process group of its own; cachevol's own messages go to stderr. The fork's\n" +
    'lease is renewed while it runs. SIGINT, SIGTERM and SIGHUP are forwarded to the whole group,\n' +
    'which is killed (SIGKILL) when it has not ended after --grace. When the command exits, what\n' +
    'it left running in its group is killed before the commit.\n' +
    "Exit code: the command's; 128+N after a signal N (then the fork is abandoned, or, when it\n" +
    'arrives during the commit, the commit finishes first); 127 when the command is not found.\n' +
    'The cache never fails the job: a volume that cannot be attached (full disk, missing data, a\n' +
    'store or backend error) or a path that cannot be linked runs uncached, with one warning;\n' +
    "a failed commit is a warning too, and the exit code stays the command's. --fail-on-miss and\n" +
    '--strict opt in to failing.\n' +
    'With --container-cache SLUG the job also gets the volume SLUG/container-cache and a Docker\n' +
    'engine of its own (dockerd, overlay2, its data root on the fork, no host networking), with\n' +
    'DOCKER_HOST set for the command; it is stopped (SIGTERM, waiting) before the commit. When\n' +
    "the fork cannot hold overlay2's layers the engine runs uncached, with a warning.",
  example: 'cachevol run --cache node_modules --name deps -- npm ci',
  load: () => import('../actions/run.js').then((m) => m.run),
};
