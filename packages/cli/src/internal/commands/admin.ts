import type { CommandSpec } from '../spec.js';
import { JSON_OPTION } from './shared-options.js';

/** `cachevol ls`. */
export const lsCommand: CommandSpec = {
  name: 'ls',
  summary: 'list volumes, their versions (head first) and live forks',
  positionals: [],
  options: JSON_OPTION,
  load: () => import('../actions/admin.js').then((m) => m.ls),
};

/** `cachevol stats`. */
export const statsCommand: CommandSpec = {
  name: 'stats',
  summary: 'hit / stale / miss counts and hit ratio per volume',
  positionals: [],
  options: JSON_OPTION,
  load: () => import('../actions/admin.js').then((m) => m.stats),
};

const FORCE_GC = {
  type: 'boolean',
  description:
    'also delete backend data that no record accounts for (after a lost database; kept and reported otherwise)',
} as const;

/** `cachevol gc`. */
export const gcCommand: CommandSpec = {
  name: 'gc',
  summary:
    'abandon forks whose lease ran out, repair interrupted operations, apply retention, prune old records',
  positionals: [],
  options: { force: FORCE_GC, ...JSON_OPTION },
  details:
    'Safe while jobs run: live forks keep their lease (renewed by `cachevol run` and `cachevol heartbeat`);\n' +
    'only forks not renewed within the lease are abandoned. Versions idle 14 days are removed.\n' +
    'Backend data that no record accounts for is reported and kept; --force deletes it.',
  load: () => import('../actions/admin.js').then((m) => m.gc),
};

/** `cachevol rm`. */
export const rmCommand: CommandSpec = {
  name: 'rm',
  summary: 'remove a volume: abandon its live forks, remove every version',
  positionals: [{ name: 'NAME', description: 'the volume name' }],
  options: {
    scope: { type: 'string', value: 'SCOPE', description: 'the volume scope (default "default")' },
    ...JSON_OPTION,
  },
  load: () => import('../actions/admin.js').then((m) => m.rm),
};

/** `cachevol reconcile`. */
export const reconcileCommand: CommandSpec = {
  name: 'reconcile',
  summary: 'repair what crashes left: finish interrupted commits and abandons; report unowned data',
  positionals: [],
  options: {
    force: {
      type: 'boolean',
      description:
        'treat in-flight operations as interrupted now and delete unowned data (only when nothing else uses the root)',
    },
    ...JSON_OPTION,
  },
  load: () => import('../actions/admin.js').then((m) => m.reconcile),
};
