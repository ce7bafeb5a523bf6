import { describeValue } from '../config/internal/describe.js';
import type { GitRepositoryRef } from '../config/special-volumes.js';
import { CacheVolumeError } from '../errors.js';

/** Longest repository URL accepted. */
const MAX_URL_LENGTH = 2048;
/** The URL schemes git may be given: no `ext::` or `fd::` transports (they run commands). */
const SCHEMES = ['https', 'http', 'git', 'ssh', 'file'] as const;
/** `user@host:path`, git's scp-like syntax for ssh. */
const SCP_LIKE = /^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;

function invalid(what: string, value: unknown, why: string): CacheVolumeError {
  return new CacheVolumeError('INVALID_ARGUMENT', `Invalid ${what} ${describeValue(value)}: ${why}`, {
    details: { [what]: value },
  });
}

/**
 * Checks a repository URL before git sees it: `https://`, `http://`, `git://`, `ssh://` or
 * `file://` URLs, scp-like `user@host:path`, or an absolute local path. Refused: a value that
 * starts with `-` (git would read it as an option), whitespace or control characters, and
 * every other transport (`ext::` and `fd::` run commands).
 *
 * @param value - the URL as the user wrote it
 * @returns the URL, unchanged
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for anything else
 *
 * @example
 * ```ts
 * validateRepositoryUrl('https://github.com/acme/widgets.git') // returned as it is
 * validateRepositoryUrl('ext::sh -c touch% /tmp/x') // throws INVALID_ARGUMENT
 * ```
 */
export function validateRepositoryUrl(value: unknown): string {
  const what = 'repository URL';
  if (typeof value !== 'string' || value === '') throw invalid(what, value, 'give the URL to clone.');
  if (value.length > MAX_URL_LENGTH) throw invalid(what, value, `longer than ${MAX_URL_LENGTH} characters.`);
  if (value.startsWith('-')) throw invalid(what, value, 'it may not start with "-".');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(value))
    throw invalid(what, value, 'it may not contain spaces or control characters.');
  if (value.startsWith('/') || SCP_LIKE.test(value)) return value;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined || !(SCHEMES as readonly string[]).includes(scheme))
    throw invalid(
      what,
      value,
      `use an ${SCHEMES.map((s) => `${s}://`).join(', ')} URL, user@host:path, or an absolute path.`,
    );
  try {
    new URL(value);
  } catch {
    throw invalid(what, value, 'it is not a well-formed URL.');
  }
  return value;
}

/**
 * Checks a commit id: 7 to 64 hexadecimal digits (a full SHA-1 or SHA-256 id, or an abbreviation
 * of one that the repository already has).
 *
 * @param value - the commit as the user wrote it
 * @returns the commit, lowercased
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for anything else
 */
export function validateCommit(value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{7,64}$/i.test(value))
    throw invalid('commit', value, 'expected a commit id of 7 to 64 hexadecimal digits.');
  return value.toLowerCase();
}

/**
 * Checks a ref (a branch, a tag, `HEAD`, or a full `refs/...` name) by git's `check-ref-format`
 * rules, and refuses one that starts with `-`, so that it can only ever be read as a ref.
 *
 * @param value - the ref as the user wrote it, e.g. `main`, `v1.2.0`, `refs/pull/7/head`
 * @returns the ref, unchanged
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` for a name git would refuse
 */
export function validateRef(value: unknown): string {
  const what = 'ref';
  if (typeof value !== 'string' || value === '')
    throw invalid(what, value, 'give a branch, tag or ref name.');
  if (value.length > 1024) throw invalid(what, value, 'longer than 1024 characters.');
  if (value.startsWith('-')) throw invalid(what, value, 'it may not start with "-".');
  const bad =
    // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in refs
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(value) ||
    value.includes('..') ||
    value.includes('@{') ||
    value.includes('//') ||
    value === '@' ||
    value.startsWith('/') ||
    value.endsWith('/') ||
    value.endsWith('.') ||
    value.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'));
  if (bad) throw invalid(what, value, 'not a valid ref name (see `git check-ref-format`).');
  return value;
}

/**
 * The account and repository a URL names, for `gitMirrorVolumeName` (of `@cachevol/core`): the last two parts
 * of its path (`https://host/acme/widgets.git` → `acme`, `widgets`); with a path of one part,
 * the host is the account.
 *
 * @param url - a URL that {@link validateRepositoryUrl} accepts
 * @throws `CacheVolumeError` `INVALID_ARGUMENT` when the URL names no repository
 */
export function repositoryOfUrl(url: string): GitRepositoryRef {
  let host = 'local';
  let path = url;
  const scp = SCP_LIKE.test(url) ? url.indexOf(':') : -1;
  if (scp > 0) {
    host = url.slice(url.indexOf('@') + 1, scp);
    path = url.slice(scp + 1);
  } else if (!url.startsWith('/')) {
    const parsed = new URL(url);
    host = parsed.hostname || 'local';
    path = decodeURIComponent(parsed.pathname);
  }
  const parts = path.split('/').filter((part) => part !== '' && part !== '.git');
  const repository = parts.at(-1)?.replace(/\.git$/i, '');
  if (!repository) throw invalid('repository URL', url, 'it names no repository (its path is empty).');
  return { account: parts.length > 1 ? (parts.at(-2) as string) : host, repository };
}
