import { CacheVolumeError } from '../errors.js';
import { describeValue } from './internal/describe.js';
import type { RawProblem } from './internal/issues.js';
import type { YamlPathSegment } from './problems.js';

/**
 * One combination of a matrix step: dimension name to value. A matrix written as a plain list has
 * one unnamed dimension, under the key `""` (its token is `{{matrix}}`).
 */
export type MatrixCombination = Readonly<Record<string, string>>;

/** Most combinations one matrix step may expand to (cachevol's bound, against runaway files). */
export const MAX_MATRIX_COMBINATIONS = 10_000;

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A combination's identity: its values in dimension order. */
function keyOf(dims: readonly string[], combination: MatrixCombination): string {
  return JSON.stringify(dims.map((dim) => combination[dim]));
}

/** Reads a list of dimension values, or records why not. */
function values(list: unknown, at: YamlPathSegment[], problems: RawProblem[]): string[] {
  if (!Array.isArray(list)) {
    problems.push({ segments: at, message: `Expected a list of matrix values, got ${describeValue(list)}.` });
    return [];
  }
  const out: string[] = [];
  list.forEach((item, i) => {
    const text = scalar(item);
    if (text === undefined) {
      problems.push({
        segments: [...at, i],
        message: `Expected a matrix value (a string, number or boolean), got ${describeValue(item)}.`,
      });
    } else out.push(text);
  });
  return out;
}

/** `skip:` as Buildkite reads it: `false` or nothing keeps the combination, anything else skips it. */
function skips(adjustment: Json): boolean {
  const { skip } = adjustment;
  return skip !== undefined && skip !== null && skip !== false;
}

/**
 * Expands the `matrix` of a command step into its combinations, as Buildkite does: the cross
 * product of the `setup` dimensions (the first dimension varies slowest), less the combinations an
 * adjustment skips (`skip: true` or a reason string), plus the new combinations that adjustments
 * add (every dimension given), in their order.
 *
 * Forms: a list of values (`matrix: [a, b]`, one unnamed dimension, token `{{matrix}}`);
 * `{ setup: [a, b], adjustments? }`; or `{ setup: { os: [...], arch: [...] }, adjustments? }`
 * (tokens `{{matrix.os}}`, `{{matrix.arch}}`).
 *
 * @param matrix - the `matrix` value as written
 * @param at - its YAML path, for problems
 * @returns the combinations, or the problems found, each with its YAML path as segments (then
 *   `combinations` is empty)
 */
export function expandMatrix(
  matrix: unknown,
  at: YamlPathSegment[],
): { combinations: MatrixCombination[]; problems: { segments: YamlPathSegment[]; message: string }[] } {
  const problems: RawProblem[] = [];
  let setup: Record<string, string[]>;
  let adjustments: unknown;
  if (Array.isArray(matrix)) setup = { '': values(matrix, at, problems) };
  else if (isPlainObject(matrix)) {
    for (const key of Object.keys(matrix)) {
      if (key !== 'setup' && key !== 'adjustments') {
        problems.push({
          segments: [...at, key],
          message: 'Unknown key: a matrix takes "setup" and "adjustments".',
        });
      }
    }
    adjustments = matrix.adjustments;
    const written = matrix.setup;
    if (Array.isArray(written)) setup = { '': values(written, [...at, 'setup'], problems) };
    else if (isPlainObject(written) && Object.keys(written).length > 0) {
      setup = {};
      for (const [dim, list] of Object.entries(written)) {
        setup[dim] = values(list, [...at, 'setup', dim], problems);
      }
    } else {
      problems.push({
        segments: [...at, 'setup'],
        message: `Expected the matrix setup: a list of values, or dimensions such as { os: [linux, macos] }; got ${describeValue(written)}.`,
      });
      return { combinations: [], problems };
    }
  } else {
    problems.push({
      segments: at,
      message: `Expected a matrix: a list of values, or { setup, adjustments }; got ${describeValue(matrix)}.`,
    });
    return { combinations: [], problems };
  }
  const dims = Object.keys(setup);
  const product = dims.reduce((n, dim) => n * (setup[dim]?.length ?? 0), 1);
  if (product > MAX_MATRIX_COMBINATIONS) {
    problems.push({
      segments: at,
      message: `The matrix has ${product} combinations; cachevol expands at most ${MAX_MATRIX_COMBINATIONS}.`,
    });
  }

  const skipped = new Set<string>();
  const added: MatrixCombination[] = [];
  if (adjustments !== undefined && adjustments !== null) {
    if (!Array.isArray(adjustments)) {
      problems.push({
        segments: [...at, 'adjustments'],
        message: `Expected a list of adjustments ({ with, skip? }), got ${describeValue(adjustments)}.`,
      });
    } else {
      adjustments.forEach((adjustment, i) => {
        const where = [...at, 'adjustments', i];
        if (!isPlainObject(adjustment)) {
          problems.push({
            segments: where,
            message: `Expected an adjustment ({ with, skip? }), got ${describeValue(adjustment)}.`,
          });
          return;
        }
        const combination = readWith(adjustment.with, dims, [...where, 'with'], problems);
        if (combination === undefined) return;
        if (skips(adjustment)) skipped.add(keyOf(dims, combination));
        else added.push(combination);
      });
    }
  }
  if (problems.length > 0) return { combinations: [], problems };

  const combinations: MatrixCombination[] = [];
  const seen = new Set<string>();
  const walk = (index: number, partial: Record<string, string>) => {
    const dim = dims[index];
    if (dim === undefined) {
      const key = keyOf(dims, partial);
      if (!seen.has(key)) {
        seen.add(key);
        if (!skipped.has(key)) combinations.push({ ...partial });
      }
      return;
    }
    for (const value of setup[dim] ?? []) walk(index + 1, { ...partial, [dim]: value });
  };
  walk(0, {});
  for (const combination of added) {
    const key = keyOf(dims, combination);
    if (seen.has(key) || skipped.has(key)) continue;
    seen.add(key);
    combinations.push(combination);
  }
  if (combinations.length === 0) {
    problems.push({ segments: at, message: 'The matrix has no combination left to run.' });
  }
  return { combinations, problems };
}

/** Reads an adjustment's `with`: a value (unnamed dimension) or a value for every dimension. */
function readWith(
  written: unknown,
  dims: readonly string[],
  at: YamlPathSegment[],
  problems: RawProblem[],
): MatrixCombination | undefined {
  const before = problems.length;
  const single = scalar(written);
  if (single !== undefined) {
    if (dims.length === 1 && dims[0] === '') return { '': single };
    problems.push({
      segments: at,
      message: `A single value fits a matrix without named dimensions; give a value for each of ${dims.join(', ')}.`,
    });
    return undefined;
  }
  if (!isPlainObject(written)) {
    problems.push({
      segments: at,
      message: `Expected the combination to adjust, got ${describeValue(written)}.`,
    });
    return undefined;
  }
  const combination: Record<string, string> = {};
  const unnamed = dims.length === 1 && dims[0] === '';
  for (const [dim, value] of Object.entries(written)) {
    const text = scalar(value);
    if (unnamed || !dims.includes(dim)) {
      problems.push({
        segments: [...at, dim],
        message: unnamed
          ? 'This matrix has no named dimensions: write the value itself (with: value).'
          : `Unknown matrix dimension; the dimensions are ${dims.join(', ')}.`,
      });
    } else if (text === undefined) {
      problems.push({
        segments: [...at, dim],
        message: `Expected a matrix value (a string, number or boolean), got ${describeValue(value)}.`,
      });
    } else combination[dim] = text;
  }
  const missing = unnamed ? [] : dims.filter((dim) => !(dim in combination));
  if (missing.length > 0 && problems.length === before) {
    problems.push({
      segments: at,
      message: `An adjustment gives a value for every dimension; missing: ${missing.join(', ')}.`,
    });
  }
  return problems.length > before ? undefined : combination;
}

const MATRIX_TOKEN = /\{\{\s*matrix(?:\.([\w.-]+))?\s*\}\}/g;

/** True when `text` holds a `{{matrix}}` or `{{matrix.name}}` token. */
export function hasMatrixToken(text: string): boolean {
  MATRIX_TOKEN.lastIndex = 0;
  return MATRIX_TOKEN.test(text);
}

/**
 * Replaces `{{matrix}}` and `{{matrix.name}}` tokens (spaces inside the braces allowed) with a
 * combination's values.
 *
 * @param text - a string of the step
 * @param combination - the combination
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for a token naming no dimension
 */
export function substituteMatrix(text: string, combination: MatrixCombination): string {
  return text.replace(MATRIX_TOKEN, (token, dim: string | undefined) => {
    const value = combination[dim ?? ''];
    if (value === undefined) {
      const known = Object.keys(combination).map((d) => (d === '' ? '{{matrix}}' : `{{matrix.${d}}}`));
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Unknown matrix token ${token} in ${describeValue(text)}; this step's tokens are ${known.join(', ')}.`,
        { details: { text, token } },
      );
    }
    return value;
  });
}
