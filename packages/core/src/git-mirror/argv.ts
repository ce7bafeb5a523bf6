// The git command lines of a mirror checkout, built in pure functions (unit-tested without git).
// Every URL, ref and commit has been validated (nothing starts with "-"), and `--` ends the
// options wherever git takes one, so no value can ever be read as an option.

/**
 * `git clone --mirror`: a bare copy of every ref of `url` into `dir`.
 *
 * @param url - the repository
 * @param dir - where the mirror goes (a new directory)
 */
export function mirrorCloneArgs(url: string, dir: string): string[] {
  return ['clone', '--mirror', '--quiet', '--', url, dir];
}

/**
 * `git fetch` into a mirror of only what a job needs: `refs` (a branch, tag or commit id each).
 * A mirror's configured refspec (`+refs/*:refs/*`) updates the ref of a branch or tag fetched
 * by name; `FETCH_HEAD` holds what was fetched.
 *
 * @param mirror - the mirror's directory
 * @param refs - what to fetch (at least one)
 */
export function mirrorFetchArgs(mirror: string, refs: readonly string[]): string[] {
  return ['-C', mirror, 'fetch', '--quiet', 'origin', ...refs];
}

/**
 * `git rev-parse` of a commit: exits 0 and prints its full id when `dir` has it.
 *
 * @param dir - a repository (bare or not)
 * @param rev - a commit id, a ref or `FETCH_HEAD`
 */
export function resolveCommitArgs(dir: string, rev: string): string[] {
  return ['-C', dir, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`];
}

/**
 * `git clone --reference <mirror> --dissociate`: the objects come from the mirror, only what it
 * lacks from `url`, and the clone then copies what it borrowed, so it never points into the
 * mirror (which lives in a fork that is gone once committed).
 *
 * @param url - the repository (the checkout's `origin`)
 * @param mirror - the mirror's directory
 * @param dest - the checkout's directory
 */
export function referenceCloneArgs(url: string, mirror: string, dest: string): string[] {
  return ['clone', '--quiet', '--no-checkout', '--reference', mirror, '--dissociate', '--', url, dest];
}

/**
 * `git clone`, without a mirror: the fallback when the mirror is broken or unavailable.
 *
 * @param url - the repository
 * @param dest - the checkout's directory
 */
export function plainCloneArgs(url: string, dest: string): string[] {
  return ['clone', '--quiet', '--no-checkout', '--', url, dest];
}

/**
 * `git fetch origin <rev>` in a checkout (a commit that no ref of the clone reaches, or a ref).
 *
 * @param dest - the checkout
 * @param rev - a commit id or ref
 */
export function checkoutFetchArgs(dest: string, rev: string): string[] {
  return ['-C', dest, 'fetch', '--quiet', 'origin', rev];
}

/**
 * `git checkout --detach <commit>`: the working tree at exactly that commit.
 *
 * @param dest - the checkout
 * @param commit - a full commit id
 */
export function detachedCheckoutArgs(dest: string, commit: string): string[] {
  return ['-C', dest, 'checkout', '--quiet', '--force', '--detach', commit, '--'];
}
