import type { OptionSpec } from '../spec.js';

// Only data, for `--help` and the parser. Like every command spec, this module imports nothing
// from @cachevol/core (the bundle would load all of it, zod included, with the first import),
// so the commit modes are spelled out here; test/lazy-loading.test.ts checks them against
// COMMIT_MODES.

/** `--json`, for the commands that can print JSON. */
export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print JSON for machines' },
};

/** Flags shared by the commands that attach volumes. */
export const ATTACH_OPTIONS = {
  scope: {
    type: 'string',
    value: 'SCOPE',
    description: 'isolation unit, e.g. the pipeline or cluster (default "default")',
  },
  size: {
    type: 'string',
    value: 'SIZE',
    description: 'requested size, whole gigabytes "Ng" (default and minimum 20g)',
  },
  commit: {
    type: 'string',
    value: 'MODE',
    description: 'when to commit: on-success, always, never, on-change, if-missing (default on-success)',
  },
  workdir: {
    type: 'string',
    value: 'DIR',
    description: 'the working directory relative paths are linked into (default .)',
  },
  'instance-root': {
    type: 'string',
    value: 'DIR',
    description: 'the directory absolute cache paths are relative to (default /)',
  },
  os: { type: 'string', value: 'OS', description: 'path rules: linux or macos (default: this machine)' },
  replace: {
    type: 'boolean',
    description: 'move an existing file or non-empty directory at a cache path aside instead of failing',
  },
  link: {
    type: 'string',
    value: 'METHOD',
    description:
      'how cache paths are linked: auto (bind mount as root on Linux, else symlink), bind, symlink',
  },
  job: {
    type: 'string',
    value: 'LABEL',
    description: 'a label for the job holding the fork (default cli-<pid>)',
  },
} satisfies Record<string, OptionSpec>;

/** `--fallback`, for the commands that attach one named volume (`attach`, `run`). */
export const FALLBACK_OPTION = {
  fallback: {
    type: 'string',
    multiple: true,
    value: 'NAME[@SCOPE]',
    description:
      'on a miss, fork this volume instead (repeatable, tried in order, at most 8; SCOPE defaults to --scope; {{ ... }} expanded like the name); the commit still goes to the volume attached',
  },
} satisfies Record<string, OptionSpec>;

/** Flags of the commands that run jobs (`run`, `pipeline run`): how much cache trouble may fail them. */
export const JOB_OPTIONS = {
  'fail-on-miss': {
    type: 'boolean',
    description: 'fail (exit 1, the command does not run) when a volume has no usable version',
  },
  strict: {
    type: 'boolean',
    description:
      'fail when the cache cannot be attached or a path cannot be linked (default: run with it uncached, with a warning)',
  },
} satisfies Record<string, OptionSpec>;

/** Flags of the commands that run programs (`run`, `pipeline run`). */
export const PROGRAM_OPTIONS = {
  grace: {
    type: 'string',
    value: 'SECONDS',
    env: 'CACHEVOL_GRACE',
    description:
      "after a signal, how long the command's processes have before SIGKILL: seconds, or 500ms, 10s, 1m (default 10)",
  },
} satisfies Record<string, OptionSpec>;
