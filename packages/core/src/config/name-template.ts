import { CacheVolumeError } from '../errors.js';

/** What the tokens of a volume name template stand for. */
export interface NameTemplateContext {
  /**
   * A digest of the files, by their paths as written (relative to the checkout); the caller
   * reads them. Absent where no files can be read: a `checksum` token is then an error.
   */
  checksum?(files: readonly string[]): string;
  /** The operating system: `linux`, `darwin`, ... (`process.platform`). */
  os: string;
  /** The CPU architecture: `x64`, `arm64`, ... (`process.arch`). */
  arch: string;
}

const TOKEN = /\{\{\s*([a-z]+)((?:\s+(?:"[^"]*"|'[^']*'))*)\s*\}\}/g;
const ARGUMENT = /"([^"]*)"|'([^']*)'/g;

/**
 * Expands the tokens of a volume name, so that a cache's name follows what it holds (the
 * "cache key" of other CI caches): `{{ checksum "package-lock.json" }}` (one or more files, a
 * digest of their contents), `{{ os }}` and `{{ arch }}`. Text without tokens is returned as is.
 *
 * @example
 * ```ts
 * expandNameTemplate('deps-{{ os }}-{{ checksum "package-lock.json" }}', { os: 'linux', arch: 'x64', checksum })
 * // 'deps-linux-3f2a9c0b1d4e5f60'
 * ```
 *
 * @param text - the name as written
 * @param context - the digest of files, the OS and the architecture
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for an unknown token, a `checksum` without
 *   files, or one where files cannot be read
 */
export function expandNameTemplate(text: string, context: NameTemplateContext): string {
  return text.replace(TOKEN, (token, name: string, rest: string) => {
    const args = [...rest.matchAll(ARGUMENT)].map((m) => (m[1] ?? m[2]) as string);
    const refuse = (why: string): never => {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Cannot expand ${token} in the name "${text}": ${why}.`,
        {
          details: { name: text, token },
        },
      );
    };
    if (name === 'os' || name === 'arch') {
      if (args.length > 0) refuse(`{{ ${name} }} takes no arguments`);
      return context[name];
    }
    if (name !== 'checksum')
      return refuse('the tokens are {{ checksum "FILE" ... }}, {{ os }} and {{ arch }}');
    if (args.length === 0) refuse('name the files, e.g. {{ checksum "package-lock.json" }}');
    if (!context.checksum) return refuse('no files can be read here');
    return context.checksum(args);
  });
}

/**
 * Whether a name holds template tokens (see {@link expandNameTemplate}).
 *
 * @param text - the name as written
 */
export function hasNameTemplate(text: string): boolean {
  TOKEN.lastIndex = 0;
  return TOKEN.test(text);
}
