/**
 * `@cachevol/core/git-mirror`: checkouts from a repository's **git mirror volume**.
 * `checkoutFromMirror` attaches the mirror's fork, clones or fetches only what the job needs,
 * checks out from a copy of the mirror (never pointing into it), commits the mirror, and falls back to a plain clone
 * on any cache trouble. It runs `git` (argument arrays, never a shell), which is why it is an
 * entry point of its own: `@cachevol/core` stays free of I/O.
 *
 * @packageDocumentation
 */
export {
  mirrorCloneArgs,
  mirrorCopyCloneArgs,
  mirrorFetchArgs,
  plainCloneArgs,
  setOriginArgs,
} from './argv.js';
export {
  checkoutFromMirror,
  type GitCheckoutOptions,
  type GitCheckoutResult,
  type GitCheckoutTimings,
  type GitMirrorReport,
  MIRROR_DIR,
} from './checkout.js';
export { repositoryOfUrl, validateCommit, validateRef, validateRepositoryUrl } from './inputs.js';
export { verifyPacks } from './verify-packs.js';
