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
 * `git clone --no-hardlinks` of the mirror: a copy of the mirror's object files (no network, no
 * repack), so the checkout never points into the mirror (no alternates) nor shares its files (no
 * hard links) — the mirror lives in a fork that is gone once committed. `origin` is then set to
 * the repository's URL ({@link setOriginArgs}).
 *
 * @param mirror - the mirror's directory
 * @param dest - the checkout's directory
 */
export function mirrorCopyCloneArgs(mirror: string, dest: string): string[] {
  return ['clone', '--quiet', '--no-checkout', '--no-hardlinks', '--', mirror, dest];
}

/**
 * `git remote set-url origin <url>`: a checkout copied from the mirror fetches from the
 * repository, as a plain clone would; a mirror fetches from the URL the job was given.
 *
 * @param dest - the checkout or the mirror
 * @param url - the repository
 */
export function setOriginArgs(dest: string, url: string): string[] {
  return ['-C', dest, 'remote', 'set-url', '--', 'origin', url];
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
