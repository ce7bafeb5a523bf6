import type { CommandSpec } from '../spec.js';
import { JSON_OPTION } from './shared-options.js';

/** `cachevol serve`. */
export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: "serve this host's versions to the fleet's other hosts",
  positionals: [],
  options: {
    listen: {
      type: 'string',
      value: 'ADDRESS:PORT',
      description:
        'where to listen (default 127.0.0.1:7077); other hosts reach it as --peer HOST=http://ADDRESS:PORT',
    },
    ...JSON_OPTION,
  },
  details:
    'Runs until SIGINT or SIGTERM. Every request must carry the token (CACHEVOL_TOKEN or --token-file,\n' +
    'at least 16 characters); nothing is served without it. Other hosts list this one with --peer and the\n' +
    'same token, and share its --store: an attach there pulls a head only this host holds.',
  example:
    'CACHEVOL_TOKEN=$(cat /etc/cachevol/token) cachevol serve --host a --listen 10.0.0.1:7077 --store postgres://…',
  load: () => import('../actions/fleet.js').then((m) => m.serve),
};

/** `cachevol pull`. */
export const pullCommand: CommandSpec = {
  name: 'pull',
  summary: 'copy a version another host holds to this one (default: the head)',
  positionals: [{ name: 'NAME', description: 'the volume name' }],
  options: {
    scope: { type: 'string', value: 'SCOPE', description: 'the volume scope (default "default")' },
    'version-id': { type: 'string', value: 'ID', description: 'the version (default: the head)' },
    from: {
      type: 'string',
      value: 'HOST',
      description: 'the --peer to pull from (default: the first that holds it)',
    },
    ...JSON_OPTION,
  },
  example: 'cachevol pull node-modules --scope my-pipeline --peer a=http://10.0.0.1:7077',
  load: () => import('../actions/fleet.js').then((m) => m.pull),
};
