import type { CommandSpec } from '../spec.js';
import { JSON_OPTION } from './shared-options.js';

/** `cachevol git-checkout`. */
export const gitCheckoutCommand: CommandSpec = {
  name: 'git-checkout',
  summary: 'check out a repository from its git mirror volume (clone or fetch the mirror, commit it)',
  positionals: [
    {
      name: 'URL',
      description: 'the repository: https://, http://, git://, ssh://, file://, user@host:path or /path',
    },
    { name: 'DIR', description: 'where the working tree goes: a new or empty directory' },
  ],
  options: {
    commit: { type: 'string', value: 'SHA', description: 'the commit to check out (7 to 64 hex digits)' },
    ref: {
      type: 'string',
      value: 'REF',
      description: 'the branch, tag or ref to check out, or to fetch --commit by (default HEAD)',
    },
    scope: {
      type: 'string',
      value: 'SCOPE',
      description: 'the mirror volume\'s scope (default "default": one mirror per repository)',
    },
    name: {
      type: 'string',
      value: 'NAME',
      description: 'the mirror volume (default buildkite-git-mirror-<account>-<repository> from URL)',
    },
    size: { type: 'string', value: 'SIZE', description: 'the mirror volume\'s size, "Ng" (default 20g)' },
    job: { type: 'string', value: 'LABEL', description: "a label for the job holding the mirror's fork" },
    ...JSON_OPTION,
  },
  details:
    'On a miss the mirror is made with `git clone --mirror`; on a hit only the ref or commit the\n' +
    'job needs is fetched, and nothing when the commit is already there. The working tree is\n' +
    'a copy of the mirror (`git clone --no-hardlinks`, origin set to URL), so it never points\n' +
    'into the fork, and the fork is committed when the mirror changed. Any cache trouble (a\n' +
    'broken mirror, a failed attach) is a warning and a plain `git clone`; only the repository\n' +
    'failing is an error.',
  example:
    'cachevol git-checkout "$BUILDKITE_REPO" src --commit "$BUILDKITE_COMMIT" --ref "$BUILDKITE_BRANCH"',
  load: () => import('../actions/git-checkout.js').then((m) => m.gitCheckout),
};
