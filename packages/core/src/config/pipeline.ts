import { type Document, isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { isCacheVolumeError } from '../errors.js';
import { validateName } from '../names.js';
import { parseOptions } from '../options.js';
import { parseSize } from '../size.js';
import { describeValue } from './internal/describe.js';
import { problemsFromIssues } from './internal/issues.js';
import { type Keyed, nestedPairs } from './internal/overlaps.js';
import { interpolateVariables, type PipelineEnv } from './interpolate.js';
import { expandMatrix, hasMatrixToken, type MatrixCombination, substituteMatrix } from './matrix.js';
import { expandNameTemplate, hasNameTemplate, type NameTemplateContext } from './name-template.js';
import { CACHE_OS, type CacheOs, expandCacheHome, normalizeCachePath } from './paths.js';
import { type ConfigProblem, configProblemsError, formatYamlPath, type YamlPathSegment } from './problems.js';
import { cacheConfigSchemaFor } from './schema.js';

/** The size a volume gets when neither level names one: the default and minimum. */
export const DEFAULT_CACHE_SIZE = '20g';

/** Step types that run no command: `parsePipeline` passes over them. */
export const NON_COMMAND_STEP_TYPES: readonly string[] = Object.freeze([
  'wait',
  'waiter',
  'block',
  'input',
  'trigger',
]);

/** The schema of {@link ParsePipelineOptions}. */
export const parsePipelineOptionsSchema = z.strictObject({
  pipelineSlug: z
    .string()
    .superRefine((slug, ctx) => {
      try {
        validateName(slug, 'pipeline slug');
      } catch (error) {
        if (!isCacheVolumeError(error)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message });
      }
    })
    .describe('the pipeline slug: the default volume name'),
  os: z.literal(CACHE_OS).describe('whose path rules apply: linux or macos'),
  filename: z.string().min(1).default('pipeline.yml').describe('the file name errors mention'),
  env: z
    .record(z.string(), z.string().optional())
    .default({})
    .describe(
      'the variables that $VAR in cache paths, names and sizes stand for (the CLI passes process.env)',
    ),
  home: z
    .string()
    .refine((home) => home.startsWith('/'), 'home must be an absolute path')
    .optional()
    .describe('the home directory that "~" in cache paths stands for; default: env.HOME'),
  checksum: z
    .custom<(files: readonly string[]) => string>(
      (value) => typeof value === 'function',
      'expected a function',
    )
    .optional()
    .describe('a digest of files (relative to the checkout), for {{ checksum "FILE" }} in names'),
  arch: z.string().min(1).default(process.arch).describe('what {{ arch }} in names stands for'),
});

/**
 * Options for {@link parsePipeline}.
 *
 * - `pipelineSlug`: the pipeline's slug; volumes without a `name` are named after it.
 * - `os`: `linux` or `macos`; on macOS the reserved paths (`/tmp`, `/private`, ...) are refused.
 * - `filename` (default `"pipeline.yml"`): the file name that error messages mention.
 * - `env` (default `{}`): the variables that `$VAR`, `${VAR}`, `${VAR:-default}` in cache paths,
 *   names and sizes stand for (the pipeline's top-level `env` adds to them, without overriding).
 * - `home` (default `env.HOME`): the absolute directory that `~` and `~/...` in cache paths
 *   stand for.
 * - `checksum`: a digest of files by their paths relative to the checkout, for
 *   `{{ checksum "FILE" }}` in volume names (see `expandNameTemplate`); without it such a name
 *   is a problem. The CLI passes one that reads the working directory.
 * - `arch` (default `process.arch`): what `{{ arch }}` in names stands for (`{{ os }}` is `os`).
 */
export type ParsePipelineOptions = z.input<typeof parsePipelineOptionsSchema>;

/** A volume a step gets, with the paths to link into the job. */
export interface VolumeRequest {
  /** The volume name (the pipeline slug unless `name` was given). */
  name: string;
  /**
   * The paths to link, in their normal spelling (see `normalizeCachePath`): the top-level paths
   * first, then the step's new ones, each once.
   */
  paths: string[];
  /** The requested size as written, `Ng`. */
  size: string;
  /** The requested size in bytes. */
  sizeBytes: number;
  /**
   * The volumes to fork, in order, when this one has nothing usable (`fallbacks` in the YAML;
   * a `scope` left out means the run's). Absent when none were listed.
   */
  fallbacks?: { name: string; scope?: string }[];
}

/** Identifies the group a step sits in. */
export interface StepGroup {
  /** The group step's YAML path, e.g. `steps[3]`. */
  path: string;
  /** The group's `key` (or `id`, `identifier`), if any. */
  key?: string;
  /** The group's name (its `group` value, or `label`, `name`), if any. */
  label?: string;
}

/** A command step of the pipeline and the volumes it gets. */
export interface PipelineStep {
  /** The step's position among the command steps, in pipeline order (0-based). */
  index: number;
  /** The step's YAML path: `steps[2]`, or `steps[3].steps[0]` inside a group. */
  path: string;
  /** The step's `key` (or `id`, `identifier`), if any. */
  key?: string;
  /** The step's `label` (or `name`), if any. */
  label?: string;
  /** The step's `command` or `commands`, as a list (empty for a plugins-only step). */
  commands: string[];
  /** The group the step is in, if any (the innermost one). */
  group?: StepGroup;
  /**
   * For a step expanded from a `matrix`: its combination (dimension to value; `""` for a matrix
   * written as a list). The step's label, commands and cache have its `{{matrix}}` tokens
   * replaced.
   */
  matrix?: MatrixCombination;
  /** The volumes the step gets: the top-level volume first, then the step's own. */
  volumes: VolumeRequest[];
}

/** What {@link parsePipeline} returns. */
export interface ParsedPipeline {
  /** The pipeline slug the defaults came from. */
  pipelineSlug: string;
  /** Whose path rules were applied. */
  os: CacheOs;
  /** The top-level volume (every step's default), or `null` when the pipeline has no top-level `cache`. */
  defaultVolume: VolumeRequest | null;
  /** Every command step, in pipeline order (group steps flattened, matrix steps expanded). */
  steps: PipelineStep[];
  /**
   * What was read but ignored, such as unknown keys in a `cache` object; one line each, in the
   * same form as the errors' problems.
   */
  warnings: ConfigProblem[];
}

/** A volume as one `cache` value spells it, before defaults. */
interface VolumeSpec {
  name: string;
  paths: PathEntry[];
  size: string | undefined;
  fallbacks: { name: string; scope?: string }[] | undefined;
}

/** A normalised path and where it was written. */
interface PathEntry {
  path: string;
  at: YamlPathSegment[];
}

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstString(step: Json, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = step[key];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

const KEY_KEYS = ['key', 'id', 'identifier'] as const;
const LABEL_KEYS = ['label', 'name'] as const;
/** The keys of a command step written in the nested form, `- command: { command: make }`. */
const NESTED_COMMAND_KEYS = ['command', 'commands', 'script'] as const;
/** The keys of the object form of `cache`; any other key is a warning. */
const CACHE_KEYS = ['paths', 'name', 'size', 'fallbacks'];

/** Where a path of a step's volume came from: the top-level `cache` or the step's own. */
type Source = 'top' | 'own';

/** A path of one step's volumes, for the overlap check. */
type Claim = Keyed & { entry: PathEntry; volume: number; source: Source };

/** Walks one pipeline, collecting problems instead of stopping at the first. */
class PipelineReader {
  readonly problems: { segments: YamlPathSegment[]; message: string }[] = [];
  readonly warnings: { segments: YamlPathSegment[]; message: string }[] = [];
  private readonly warned = new Set<string>();
  private readonly reported = new Set<string>();
  readonly steps: PipelineStep[] = [];
  defaultSpec: VolumeSpec | undefined;
  env: Record<string, string | undefined>;

  constructor(
    private readonly slug: string,
    private readonly os: CacheOs,
    env: PipelineEnv,
    private readonly home: string | undefined,
    private readonly names: NameTemplateContext,
  ) {
    // No prototype: a variable named `constructor` or `__proto__` is a variable like any other.
    this.env = Object.assign(Object.create(null) as Record<string, string | undefined>, env);
  }

  /** Records a problem once (a matrix step reads its cache once per combination). */
  problem(segments: YamlPathSegment[], message: string): void {
    const key = `${formatYamlPath(segments)}\n${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.problems.push({ segments, message });
  }

  /** Records a warning once (a matrix step reads its cache once per combination). */
  warn(segments: YamlPathSegment[], message: string): void {
    const key = `${formatYamlPath(segments)}\n${message}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push({ segments, message });
  }

  /**
   * Adds the pipeline's top-level `env` to the variables, as `pipeline upload` does: each value
   * is substituted first, and a variable already set from outside is not overridden. A value that
   * cannot be substituted is left out (a cache that uses it then reports it unset).
   */
  readEnv(block: unknown): void {
    if (!isPlainObject(block)) return;
    for (const [name, raw] of Object.entries(block)) {
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') continue;
      try {
        const value = interpolateVariables(String(raw), this.env);
        if (this.env[name] === undefined) this.env[name] = value;
      } catch (error) {
        if (!isCacheVolumeError(error)) throw error;
      }
    }
  }

  /** Substitutes variables, then matrix tokens, in one string; records a problem and returns `undefined` on failure. */
  text(value: string, at: YamlPathSegment[], matrix: MatrixCombination | undefined): string | undefined {
    try {
      const substituted = interpolateVariables(value, this.env);
      if (matrix !== undefined) return substituteMatrix(substituted, matrix);
      if (hasMatrixToken(substituted)) {
        this.problem(
          at,
          `${describeValue(value)} holds a {{matrix}} token, but it is not in a step with a matrix.`,
        );
        return undefined;
      }
      return substituted;
    } catch (error) {
      if (!isCacheVolumeError(error)) throw error;
      this.problem(at, error.message);
      return undefined;
    }
  }

  /**
   * Substitutes matrix tokens only, for labels and commands (their variables are the shell's, as
   * the agent runs them); records a problem and returns `undefined` on failure.
   */
  matrixText(
    value: string,
    at: YamlPathSegment[],
    matrix: MatrixCombination | undefined,
  ): string | undefined {
    if (matrix === undefined) return value;
    try {
      return substituteMatrix(value, matrix);
    } catch (error) {
      if (!isCacheVolumeError(error)) throw error;
      this.problem(at, error.message);
      return undefined;
    }
  }

  /** {@link text}, then the name's template tokens expanded (`{{ checksum "FILE" }}`, `{{ os }}`). */
  nameText(value: string, at: YamlPathSegment[], matrix: MatrixCombination | undefined): string | undefined {
    const substituted = this.text(value, at, matrix);
    if (substituted === undefined || !hasNameTemplate(substituted)) return substituted;
    try {
      return expandNameTemplate(substituted, this.names);
    } catch (error) {
      if (!isCacheVolumeError(error)) throw error;
      this.problem(at, error.message);
      return undefined;
    }
  }

  /** {@link text}, then `~` expanded to the home directory. */
  pathText(value: string, at: YamlPathSegment[], matrix: MatrixCombination | undefined): string | undefined {
    const substituted = this.text(value, at, matrix);
    if (substituted === undefined) return undefined;
    try {
      return expandCacheHome(substituted, this.home);
    } catch (error) {
      if (!isCacheVolumeError(error)) throw error;
      this.problem(at, error.message);
      return undefined;
    }
  }

  /**
   * Substitutes variables (and matrix tokens) in the strings of a `cache` value, expands `~` in
   * its paths and drops unknown keys of its object form with a warning, before the schema checks
   * it. Values of other types are left for the schema to report.
   */
  prepareCache(value: unknown, at: YamlPathSegment[], matrix: MatrixCombination | undefined): unknown {
    // A string that cannot be substituted has its problem recorded already; a valid stand-in
    // lets the schema still report the other values' problems.
    const path = (item: unknown, where: YamlPathSegment[]) =>
      typeof item === 'string' ? (this.pathText(item, where, matrix) ?? 'unsubstituted') : item;
    const paths = (list: unknown, where: YamlPathSegment[]) =>
      Array.isArray(list) ? list.map((item, i) => path(item, [...where, i])) : path(list, where);
    if (!isPlainObject(value)) return paths(value, at);
    const prepared: Json = {};
    for (const [key, item] of Object.entries(value)) {
      if (!CACHE_KEYS.includes(key)) {
        this.warn(
          [...at, key],
          'Unknown key, ignored: the keys of a cache are "paths", "name", "size" and "fallbacks".',
        );
      } else if (key === 'paths') prepared.paths = paths(item, [...at, key]);
      else if (key === 'fallbacks') prepared.fallbacks = this.prepareFallbacks(item, [...at, key], matrix);
      else if (typeof item !== 'string') prepared[key] = item;
      else if (key === 'name') prepared.name = this.nameText(item, [...at, key], matrix) ?? this.slug;
      else prepared[key] = this.text(item, [...at, key], matrix) ?? DEFAULT_CACHE_SIZE;
    }
    return prepared;
  }

  /**
   * Substitutes variables and expands name tokens in the names (and scopes) of `fallbacks`, as
   * in `name`; anything else is left for the schema to report.
   */
  prepareFallbacks(value: unknown, at: YamlPathSegment[], matrix: MatrixCombination | undefined): unknown {
    if (!Array.isArray(value)) return value;
    const name = (item: unknown, where: YamlPathSegment[]) =>
      typeof item === 'string' ? (this.nameText(item, where, matrix) ?? this.slug) : item;
    return value.map((entry, i) => {
      if (!isPlainObject(entry)) return name(entry, [...at, i]);
      const out: Json = { ...entry };
      if ('name' in entry) out.name = name(entry.name, [...at, i, 'name']);
      if (typeof entry.scope === 'string')
        out.scope = this.text(entry.scope, [...at, i, 'scope'], matrix) ?? 'default';
      return out;
    });
  }

  /** Reads a `cache` value into a volume spec, or records its problems and returns `undefined`. */
  readCache(value: unknown, at: YamlPathSegment[], matrix?: MatrixCombination): VolumeSpec | undefined {
    const before = this.problems.length;
    const prepared = this.prepareCache(value, at, matrix);
    const parsed = cacheConfigSchemaFor(this.os).safeParse(prepared);
    if (!parsed.success)
      for (const p of problemsFromIssues(parsed.error.issues, at)) this.problem(p.segments, p.message);
    if (!parsed.success || this.problems.length > before) return undefined;
    const config = parsed.data;
    const spelled: { path: string; at: YamlPathSegment[] }[] =
      typeof config === 'string'
        ? [{ path: config, at }]
        : Array.isArray(config)
          ? config.map((path, i) => ({ path, at: [...at, i] }))
          : typeof config.paths === 'string'
            ? [{ path: config.paths, at: [...at, 'paths'] }]
            : config.paths.map((path, i) => ({ path, at: [...at, 'paths', i] }));
    const paths: PathEntry[] = [];
    const seen = new Set<string>();
    for (const entry of spelled) {
      // The schema has checked every path for this system, so this cannot throw.
      const path = normalizeCachePath(entry.path, this.os);
      const key = this.fold(path);
      if (!seen.has(key)) {
        seen.add(key);
        paths.push({ path, at: entry.at });
      }
    }
    const object = typeof config === 'object' && !Array.isArray(config) ? config : undefined;
    const fallbacks = object?.fallbacks?.map((entry) =>
      typeof entry === 'string' ? { name: entry } : { ...entry },
    );
    const spec = { name: object?.name ?? this.slug, paths, size: object?.size, fallbacks };
    const claims = paths.map(
      (entry): Claim => ({ key: `${this.fold(entry.path)}/`, entry, volume: 0, source: 'own' }),
    );
    for (const [inner, outer] of nestedPairs(claims)) {
      this.problem(
        inner.entry.at,
        `Path ${describeValue(inner.entry.path)} lies inside ${describeValue(outer.entry.path)}, another path of the same volume; a path keeps everything below it, so list ${describeValue(outer.entry.path)} only.`,
      );
    }
    return spec;
  }

  /** A path as the filesystem compares it: without letter case on macOS. */
  fold(path: string): string {
    return this.os === 'macos' ? path.toLowerCase() : path;
  }

  readSteps(list: unknown, at: YamlPathSegment[], group: StepGroup | undefined): void {
    if (!Array.isArray(list)) {
      this.problem(at, `Expected a list of steps, got ${describeValue(list)}.`);
      return;
    }
    list.forEach((step, i) => {
      this.readStep(step, [...at, i], group);
    });
  }

  readStep(step: unknown, at: YamlPathSegment[], group: StepGroup | undefined): void {
    if (typeof step === 'string') {
      if (NON_COMMAND_STEP_TYPES.includes(step)) return;
      this.problem(
        at,
        `Expected a step; a step written as a string must be "wait", "block" or "input", got ${describeValue(step)}.`,
      );
      return;
    }
    if (!isPlainObject(step)) {
      this.problem(
        at,
        `Expected a step (a mapping such as { command: "make" }), got ${describeValue(step)}.`,
      );
      return;
    }
    const keys = Object.keys(step);
    const [only] = keys;
    if (
      keys.length === 1 &&
      only !== undefined &&
      (NESTED_COMMAND_KEYS as readonly string[]).includes(only)
    ) {
      const inner = step[only];
      if (isPlainObject(inner)) {
        this.readCommandStep(inner, [...at, only], group);
        return;
      }
    }
    const type = typeof step.type === 'string' ? step.type : undefined;
    if ('group' in step || type === 'group') {
      if ('cache' in step) {
        this.problem(
          [...at, 'cache'],
          'A group step takes no cache: put cache on the steps inside it, or at the top level.',
        );
      }
      const label = firstString(step, ['group', ...LABEL_KEYS]);
      const key = firstString(step, KEY_KEYS);
      const inner: StepGroup = {
        path: formatYamlPath(at),
        ...(key === undefined ? {} : { key }),
        ...(label === undefined ? {} : { label }),
      };
      this.readSteps(step.steps, [...at, 'steps'], inner);
      return;
    }
    const nonCommand =
      (type !== undefined && NON_COMMAND_STEP_TYPES.includes(type)) ||
      NON_COMMAND_STEP_TYPES.some((t) => t in step);
    if (nonCommand) {
      if ('cache' in step) {
        this.problem(
          [...at, 'cache'],
          'Only command steps take a cache; wait, block, input and trigger steps do not.',
        );
      }
      return;
    }
    if (
      !(
        'command' in step ||
        'commands' in step ||
        'plugins' in step ||
        type === 'command' ||
        type === 'script'
      )
    ) {
      this.problem(
        at,
        'Expected a command step (with command, commands or plugins), or a wait, block, input, trigger or group step.',
      );
      return;
    }
    this.readCommandStep(step, at, group);
  }

  readCommandStep(step: Json, at: YamlPathSegment[], group: StepGroup | undefined): void {
    let commands: string[] = [];
    if ('command' in step && 'commands' in step) {
      this.problem([...at, 'commands'], 'A step has either command or commands, not both.');
    }
    const commandKey = 'command' in step ? 'command' : 'commands';
    const command = step[commandKey];
    if (typeof command === 'string') commands = [command];
    else if (Array.isArray(command) && command.every((line) => typeof line === 'string')) commands = command;
    else if (command !== undefined && command !== null) {
      this.problem(
        [...at, commandKey],
        `Expected a command string or a list of them, got ${describeValue(command)}.`,
      );
    }
    const key = firstString(step, KEY_KEYS);
    const label = firstString(step, LABEL_KEYS);
    const labelKey = LABEL_KEYS.find((k) => typeof step[k] === 'string') ?? 'label';
    const push = (matrix: MatrixCombination | undefined) => {
      const volumes = this.stepVolumes(step, at, matrix);
      const shownLabel = label === undefined ? undefined : this.matrixText(label, [...at, labelKey], matrix);
      const lines = commands.map((line, i) =>
        this.matrixText(line, Array.isArray(command) ? [...at, commandKey, i] : [...at, commandKey], matrix),
      );
      this.steps.push({
        index: this.steps.length,
        path: formatYamlPath(at),
        ...(key === undefined ? {} : { key }),
        ...(shownLabel === undefined ? {} : { label: shownLabel }),
        commands: lines.map((line, i) => line ?? commands[i] ?? ''),
        ...(group === undefined ? {} : { group }),
        ...(matrix === undefined ? {} : { matrix }),
        volumes,
      });
    };
    if (step.matrix === undefined || step.matrix === null) {
      push(undefined);
      return;
    }
    const { combinations, problems } = expandMatrix(step.matrix, [...at, 'matrix']);
    for (const p of problems) this.problem(p.segments, p.message);
    for (const combination of combinations) push(combination);
  }

  /**
   * The volumes of one command step: `cache: false` or `cache: null` turns the default volume
   * off; otherwise the step's own cache merged with the default one.
   */
  stepVolumes(step: Json, at: YamlPathSegment[], matrix: MatrixCombination | undefined): VolumeRequest[] {
    if (!('cache' in step)) return this.merge(this.defaultSpec, undefined);
    if (step.cache === false || step.cache === null) return [];
    const own = this.readCache(step.cache, [...at, 'cache'], matrix);
    return this.merge(this.defaultSpec, own);
  }

  /**
   * Merges the top-level volume with a step's: same name, paths joined (top-level first) and the
   * step's size and fallbacks win; different names, two volumes. A directory may belong to one volume only,
   * and a path of a volume may not lie inside another of its paths. Linear in the number of
   * paths, but for one sort.
   */
  merge(top: VolumeSpec | undefined, own: VolumeSpec | undefined): VolumeRequest[] {
    const specs: VolumeSpec[] = top === undefined ? [] : [{ ...top, paths: [...top.paths] }];
    const sources: Source[][] = top === undefined ? [] : [top.paths.map((): Source => 'top')];
    if (own !== undefined) {
      const index = specs.findIndex((spec) => spec.name === own.name);
      const same = specs[index];
      if (same === undefined) {
        specs.push(own);
        sources.push(own.paths.map((): Source => 'own'));
      } else {
        const known = new Set(same.paths.map((entry) => this.fold(entry.path)));
        for (const entry of own.paths) {
          if (known.has(this.fold(entry.path))) continue;
          same.paths.push(entry);
          sources[index]?.push('own');
        }
        if (own.size !== undefined) same.size = own.size;
        if (own.fallbacks !== undefined) same.fallbacks = own.fallbacks;
      }
    }
    if (top !== undefined && own !== undefined) this.checkClaims(specs, sources);
    return specs.map(toRequest);
  }

  /**
   * Reports the paths of a step's own cache that equal, contain or lie inside a top-level path
   * (paths of one `cache` value were checked when it was read).
   */
  checkClaims(specs: VolumeSpec[], sources: Source[][]): void {
    const claims: Claim[] = [];
    specs.forEach((spec, volume) => {
      spec.paths.forEach((entry, i) => {
        claims.push({
          key: `${this.fold(entry.path)}/`,
          entry,
          volume,
          source: sources[volume]?.[i] ?? 'own',
        });
      });
    });
    const reported = new Set<PathEntry>();
    for (const [a, b] of nestedPairs(claims)) {
      if (a.source === b.source) continue;
      const [mine, theirs] = a.source === 'own' ? [a, b] : [b, a];
      if (reported.has(mine.entry)) continue;
      reported.add(mine.entry);
      const other = specs[theirs.volume]?.name ?? '';
      const path = describeValue(mine.entry.path);
      const clash = describeValue(theirs.entry.path);
      this.problem(
        mine.entry.at,
        a.volume === b.volume
          ? `Path ${path} ${mine === a ? 'lies inside' : 'contains'} ${clash}, a top-level path of the same volume "${other}"; a path keeps everything below it, so list only the outer one.`
          : `Path ${path} overlaps ${clash} of volume "${other}"; a directory can belong to one volume only.`,
      );
    }
  }
}

function toRequest(spec: VolumeSpec): VolumeRequest {
  const size = spec.size ?? DEFAULT_CACHE_SIZE;
  const request = {
    name: spec.name,
    paths: spec.paths.map((entry) => entry.path),
    size,
    sizeBytes: parseSize(size),
  };
  return spec.fallbacks === undefined
    ? request
    : { ...request, fallbacks: spec.fallbacks.map((f) => ({ ...f })) };
}

/** Finds the line and column of a YAML path in a parsed document (or of its nearest ancestor). */
function locator(doc: Document, counter: LineCounter, rootIsList: boolean) {
  return (segments: YamlPathSegment[]): { line: number; column: number } | undefined => {
    const path = rootIsList ? segments.slice(1) : segments;
    for (let length = path.length; length >= 0; length--) {
      const node = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true);
      if (isNode(node) && node.range) {
        const { line, col } = counter.linePos(node.range[0]);
        return { line, column: col };
      }
    }
    return undefined;
  };
}

/**
 * Reads a whole pipeline.yml and tells, for every command step, the cache volumes it gets.
 *
 * Rules (see docs/pipeline-config.md):
 * - The top-level `cache` is the default volume of every step; a step without `cache` gets it.
 * - A step's `cache` merges with it by volume name: the paths are joined (top-level paths first,
 *   then the step's new ones) and the step's `size` and `fallbacks` win. A different name gives
 *   the step a second volume.
 * - `name` defaults to the pipeline slug; `size` defaults to `20g`, the minimum; `fallbacks`
 *   (volumes to fork on a miss, a name or `{ name, scope? }` each) to none.
 * - `wait`, `block`, `input` and `trigger` steps (also written as a bare string) are passed
 *   over. `group` steps are read through: their `steps` are listed in order, with the group in
 *   {@link PipelineStep.group}. A `cache` key on a non-command step is an error.
 * - A document that is a bare list is read as the list of steps.
 * - A step written in the nested form (`- command: { command: make, cache: x }`, also under
 *   `commands` or `script`) is read as that command step.
 * - `cache: false` or `cache: null` on a step: the step gets no volume, not even the default one.
 * - A step with a `matrix` is expanded into one step per combination (see `expandMatrix`), with
 *   `{{matrix}}` / `{{matrix.name}}` replaced in its label, commands and cache.
 * - In cache paths, names and sizes, `$VAR`, `${VAR}`, `${VAR:-default}`, ... are substituted
 *   from `options.env` and the pipeline's top-level `env` (see `interpolateVariables`); an
 *   unset variable without a default is an error. Then `~` and `~/x` in paths are expanded to
 *   the home directory. Then the values are checked.
 * - Within one step, a path may not lie inside another path of its volumes, nor be claimed by
 *   two volumes (the links could not be made).
 * - Unknown keys of a `cache` object are ignored, with a warning in
 *   {@link ParsedPipeline.warnings}.
 *
 * Every problem in the file is reported at once.
 *
 * @param input - the pipeline.yml text, or the already-parsed document
 * @param options - the pipeline slug and operating system
 * @returns the default volume and every command step with its volumes
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` with one line per problem in the message
 *   (`steps[2].cache.size (line 14, column 13): Invalid size "19g": ...`) and the list in
 *   `details.problems` ({@link ConfigProblem}[]); YAML syntax errors are reported the same way
 *
 * @example
 * ```ts
 * const pipeline = parsePipeline(readFileSync('pipeline.yml', 'utf8'), { pipelineSlug: 'web', os: 'linux' })
 * for (const step of pipeline.steps) console.log(step.commands, step.volumes)
 * ```
 */
export function parsePipeline(input: unknown, options: ParsePipelineOptions): ParsedPipeline {
  // `process.env` is no plain object to zod: pass its own entries, as the caller means.
  const given: unknown =
    isPlainObject(options) && isPlainObject(options.env) ? { ...options, env: { ...options.env } } : options;
  const { pipelineSlug, os, filename, env, home, checksum, arch } = parseOptions(
    parsePipelineOptionsSchema,
    given,
    'parsePipeline options',
  );
  let data: unknown = input;
  let locate: ((segments: YamlPathSegment[]) => { line: number; column: number } | undefined) | undefined;
  if (typeof input === 'string') {
    const counter = new LineCounter();
    const doc = parseDocument(input, { lineCounter: counter, merge: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      const problems = doc.errors.map((error): ConfigProblem => {
        const { line, col } = counter.linePos(error.pos[0]);
        return {
          path: '(syntax)',
          message: `${error.message.split('\n')[0]} (${error.code}).`,
          line,
          column: col,
        };
      });
      throw configProblemsError(problems, filename);
    }
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw configProblemsError([{ path: '(syntax)', message }], filename);
    }
    locate = locator(doc, counter, Array.isArray(data));
  }

  const reader = new PipelineReader(pipelineSlug, os, env, home ?? env.HOME, {
    os,
    arch,
    ...(checksum ? { checksum } : {}),
  });
  if (Array.isArray(data)) {
    reader.readSteps(data, ['steps'], undefined);
  } else if (isPlainObject(data)) {
    reader.readEnv(data.env);
    if ('cache' in data && data.cache !== false && data.cache !== null) {
      reader.defaultSpec = reader.readCache(data.cache, ['cache']);
    }
    if ('steps' in data) reader.readSteps(data.steps, ['steps'], undefined);
    else reader.problem(['steps'], 'Missing: a pipeline needs a list of steps.');
  } else {
    reader.problem(
      [],
      `Expected a pipeline (a mapping with steps, and cache if any), got ${describeValue(data)}.`,
    );
  }

  const place = ({ segments, message }: { segments: YamlPathSegment[]; message: string }): ConfigProblem => {
    const at = locate?.(segments);
    return { path: formatYamlPath(segments), message, ...(at ?? {}) };
  };
  if (reader.problems.length > 0) throw configProblemsError(reader.problems.map(place), filename);
  const defaultVolume = reader.defaultSpec === undefined ? null : toRequest(reader.defaultSpec);
  return { pipelineSlug, os, defaultVolume, steps: reader.steps, warnings: reader.warnings.map(place) };
}
