import type { CommandSpec } from '../spec.js';
import { ATTACH_OPTIONS, FALLBACK_OPTION, JSON_OPTION } from './shared-options.js';

const FORK = [{ name: 'FORK', description: 'a fork id printed by `cachevol attach`' }];

/** `cachevol attach`. */
export const attachCommand: CommandSpec = {
  name: 'attach',
  summary: 'attach a fork of a volume, link its paths into the working directory, print the fork id',
  positionals: [{ name: 'NAME', description: 'the volume name, e.g. node-modules' }],
  options: {
    path: {
      type: 'string',
      short: 'p',
      multiple: true,
      value: 'PATH',
      description: 'a cache path to link (repeatable)',
    },
    ...ATTACH_OPTIONS,
    ...FALLBACK_OPTION,
    ...JSON_OPTION,
  },
  details:
    'Each path is a sub-directory of the volume linked into place: relative paths into the\n' +
    'working directory, absolute paths under the instance root; by a bind mount as root on Linux,\n' +
    'else a symlink (see --link). End the fork with `cachevol finish`, which undoes the links.',
  example:
    'FORK=$(cachevol attach deps --path node_modules) && npm ci; cachevol finish "$FORK" --exit-code $?',
  load: () => import('../actions/fork-commands.js').then((m) => m.attach),
};

/** `cachevol finish`. */
export const finishCommand: CommandSpec = {
  name: 'finish',
  summary: "end a fork by the job's exit code: commit on 0, abandon otherwise (as its commit mode says)",
  positionals: FORK,
  options: {
    'exit-code': { type: 'string', value: 'N', description: "the job's exit code (required)" },
    ...JSON_OPTION,
  },
  example: 'cachevol finish f-lx2k3a9-9f2c4e1a7b3d --exit-code 0',
  load: () => import('../actions/fork-commands.js').then((m) => m.finish),
};

/** `cachevol commit`. */
export const commitCommand: CommandSpec = {
  name: 'commit',
  summary: "commit a fork: it becomes the volume's head (last write wins)",
  positionals: FORK,
  options: JSON_OPTION,
  load: () => import('../actions/fork-commands.js').then((m) => m.commit),
};

/** `cachevol abandon`. */
export const abandonCommand: CommandSpec = {
  name: 'abandon',
  summary: 'abandon a fork: throw its changes away (no version changes)',
  positionals: FORK,
  options: JSON_OPTION,
  load: () => import('../actions/fork-commands.js').then((m) => m.abandon),
};

/** `cachevol heartbeat`. */
export const heartbeatCommand: CommandSpec = {
  name: 'heartbeat',
  summary: "renew a fork's lease so `cachevol gc` does not abandon it",
  positionals: FORK,
  options: JSON_OPTION,
  load: () => import('../actions/fork-commands.js').then((m) => m.heartbeat),
};
