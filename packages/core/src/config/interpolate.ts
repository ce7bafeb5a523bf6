import { CacheVolumeError } from '../errors.js';
import { describeValue } from './internal/describe.js';

/** The variables {@link interpolateVariables} reads: names to values; `undefined` means unset. */
export type PipelineEnv = Readonly<Record<string, string | undefined>>;

const NAME_START = /[A-Za-z_]/;
/** The message for a `${` without its `}`. */
const UNCLOSED = `a "$\{" has no closing "}".`;
const NAME_PART = /[A-Za-z0-9_]/;

function fail(text: string, rule: string, variable?: string): never {
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Cannot substitute variables in ${describeValue(text)}: ${rule}`,
    {
      details: { text, ...(variable === undefined ? {} : { variable }) },
    },
  );
}

/** A recursive-descent reader over one string; `stop` ends a `${...}` default word. */
class Interpolator {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly env: PipelineEnv,
  ) {}

  /** Reads text and expansions up to the end, or up to an unbalanced `}` when `inBrace`. */
  expression(inBrace: boolean): string {
    let out = '';
    const { text } = this;
    while (this.pos < text.length) {
      const c = text[this.pos] as string;
      if (inBrace && c === '}') return out;
      const next = text[this.pos + 1];
      if (c === '\\' && next === '\\') {
        out += '\\\\';
        this.pos += 2;
      } else if (c === '\\' && next === '$') {
        out += '$';
        this.pos += 2;
      } else if (c === '$' && next === '$') {
        out += '$';
        this.pos += 2;
      } else if (c === '$' && next === '(') {
        out += '$(';
        this.pos += 2;
      } else if (c === '$' && next !== undefined) {
        this.pos += 1;
        out += this.expansion();
      } else {
        out += c;
        this.pos += 1;
      }
    }
    if (inBrace) fail(text, UNCLOSED);
    return out;
  }

  name(): string {
    const start = this.pos;
    if (!NAME_START.test(this.text[this.pos] ?? '')) {
      fail(
        this.text,
        `"$" must be followed by a variable name (a letter or "_" first), "{", or "$" (write "$$" for a literal "$").`,
      );
    }
    while (NAME_PART.test(this.text[this.pos] ?? '')) this.pos += 1;
    return this.text.slice(start, this.pos);
  }

  lookup(name: string): string | undefined {
    return Object.hasOwn(this.env, name) ? this.env[name] : undefined;
  }

  unset(name: string): never {
    return fail(
      this.text,
      `the variable ${name} is not set (give a default with \${${name}:-default}, or write "$$" for a literal "$").`,
      name,
    );
  }

  /** After the `$`: `NAME` or `{NAME[op word]}`. */
  expansion(): string {
    if (this.text[this.pos] !== '{') {
      const name = this.name();
      return this.lookup(name) ?? this.unset(name);
    }
    this.pos += 1;
    const name = this.name();
    const value = this.lookup(name);
    const op = this.text[this.pos];
    if (op === '}') {
      this.pos += 1;
      return value ?? this.unset(name);
    }
    const colon = op === ':';
    const kind = colon ? this.text[this.pos + 1] : op;
    if (kind === '-' || kind === '?') {
      this.pos += colon ? 2 : 1;
      const word = this.expression(true);
      this.pos += 1; // the closing brace
      const missing = value === undefined || (colon && value === '');
      if (!missing) return value;
      if (kind === '-') return word;
      return fail(this.text, word === '' ? `the variable ${name} is not set.` : `${name}: ${word}`, name);
    }
    if (colon) {
      this.pos += 1;
      return this.substring(name, value);
    }
    return fail(
      this.text,
      `unsupported operator after \${${name}; use \${${name}}, \${${name}:-default}, \${${name}-default}, \${${name}:?message}, \${${name}?message} or \${${name}:offset:length}.`,
    );
  }

  /** `${NAME:offset}` or `${NAME:offset:length}`, as bash and Buildkite read them. */
  substring(name: string, value: string | undefined): string {
    const close = this.text.indexOf('}', this.pos);
    if (close < 0) fail(this.text, UNCLOSED);
    const [offsetText = '', lengthText, ...rest] = this.text.slice(this.pos, close).split(':');
    this.pos = close + 1;
    const offset = Number(offsetText.trim());
    const length = lengthText === undefined ? undefined : Number(lengthText.trim());
    if (
      rest.length > 0 ||
      offsetText.trim() === '' ||
      !Number.isInteger(offset) ||
      (length !== undefined && (!Number.isInteger(length) || lengthText?.trim() === ''))
    ) {
      fail(this.text, `\${${name}:...} takes an integer offset and an optional integer length.`);
    }
    if (value === undefined) return this.unset(name);
    const start = offset < 0 ? Math.max(value.length + offset, 0) : Math.min(offset, value.length);
    if (length === undefined) return value.slice(start);
    const end = length < 0 ? value.length + length : start + length;
    return end <= start ? '' : value.slice(start, end);
  }
}

/**
 * Substitutes environment variables in one string the way Buildkite's `pipeline upload` does:
 *
 * - `$NAME` and `${NAME}`: the value; an unset variable is an error naming it (Buildkite would
 *   substitute an empty string, which for a cache path or a size is never what was meant);
 * - `${NAME:-word}`: `word` when NAME is unset or empty; `${NAME-word}`: only when unset (the
 *   word may hold further expansions);
 * - `${NAME:?message}` / `${NAME?message}`: an error with the message when NAME is unset (or
 *   empty, with `:`);
 * - `${NAME:offset}`, `${NAME:offset:length}`: a substring (a negative offset counts from the end);
 * - `$$` and `\$`: a literal `$`; `\\`, `$(` and a `$` at the end are kept as they are.
 *
 * A name starts with a letter or `_`, then letters, digits and `_`.
 *
 * @param text - the string as written
 * @param env - the variables
 * @returns the string with every expansion replaced
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` naming the variable (in `details.variable`)
 *   or the syntax error
 *
 * @example
 * ```ts
 * interpolateVariables('${CACHE_DIR:-/tmp/cache}/$$x', {}) // '/tmp/cache/$x'
 * ```
 */
export function interpolateVariables(text: string, env: PipelineEnv): string {
  if (!text.includes('$')) return text;
  return new Interpolator(text, env).expression(false);
}
