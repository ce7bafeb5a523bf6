import { type Document, isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { isCacheVolumeError } from '../errors.js';
import { validateName } from '../names.js';
import { parseOptions } from '../options.js';
import { parseSize } from '../size.js';
import { describeValue } from './internal/describe.js';
import { problemsFromIssues } from './internal/issues.js';
import { CACHE_OS, type CacheOs, normalizeCachePath } from './paths.js';
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
});

/**
 * Options for {@link parsePipeline}.
 *
 * - `pipelineSlug`: the pipeline's slug; volumes without a `name` are named after it.
 * - `os`: `linux` or `macos`; on macOS the reserved paths (`/tmp`, `/private`, ...) are refused.
 * - `filename` (default `"pipeline.yml"`): the file name that error messages mention.
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
  /** Every command step, in pipeline order (group steps flattened). */
  steps: PipelineStep[];
}

/** A volume as one `cache` value spells it, before defaults. */
interface VolumeSpec {
  name: string;
  paths: PathEntry[];
  size: string | undefined;
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

/** Walks one pipeline, collecting problems instead of stopping at the first. */
class PipelineReader {
  readonly problems: { segments: YamlPathSegment[]; message: string }[] = [];
  readonly steps: PipelineStep[] = [];
  defaultSpec: VolumeSpec | undefined;

  constructor(
    private readonly slug: string,
    private readonly os: CacheOs,
  ) {}

  problem(segments: YamlPathSegment[], message: string): void {
    this.problems.push({ segments, message });
  }

  /** Reads a `cache` value into a volume spec, or records its problems and returns `undefined`. */
  readCache(value: unknown, at: YamlPathSegment[]): VolumeSpec | undefined {
    const parsed = cacheConfigSchemaFor(this.os).safeParse(value);
    if (!parsed.success) {
      this.problems.push(...problemsFromIssues(parsed.error.issues, at));
      return undefined;
    }
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
    for (const entry of spelled) {
      // The schema has checked every path for this system, so this cannot throw.
      const path = normalizeCachePath(entry.path, this.os);
      if (!paths.some((known) => this.samePath(known.path, path))) paths.push({ path, at: entry.at });
    }
    const object = typeof config === 'object' && !Array.isArray(config) ? config : undefined;
    return { name: object?.name ?? this.slug, paths, size: object?.size };
  }

  /** Paths compare as the filesystem would: without letter case on macOS. */
  samePath(a: string, b: string): boolean {
    return this.os === 'macos' ? a.toLowerCase() === b.toLowerCase() : a === b;
  }

  /** True when `inner` is `outer` or lies below it. */
  within(inner: string, outer: string): boolean {
    const a = this.os === 'macos' ? inner.toLowerCase() : inner;
    const b = this.os === 'macos' ? outer.toLowerCase() : outer;
    return a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
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
    const own = 'cache' in step ? this.readCache(step.cache, [...at, 'cache']) : undefined;
    const volumes = this.merge(this.defaultSpec, own);
    const key = firstString(step, KEY_KEYS);
    const label = firstString(step, LABEL_KEYS);
    this.steps.push({
      index: this.steps.length,
      path: formatYamlPath(at),
      ...(key === undefined ? {} : { key }),
      ...(label === undefined ? {} : { label }),
      commands,
      ...(group === undefined ? {} : { group }),
      volumes,
    });
  }

  /**
   * Merges the top-level volume with a step's: same name, paths joined (top-level first) and the
   * step's size wins; different names, two volumes. A directory may belong to one volume only.
   */
  merge(top: VolumeSpec | undefined, own: VolumeSpec | undefined): VolumeRequest[] {
    const specs: VolumeSpec[] = top === undefined ? [] : [{ ...top, paths: [...top.paths] }];
    if (own !== undefined) {
      const same = specs.find((spec) => spec.name === own.name);
      if (same === undefined) specs.push(own);
      else {
        for (const entry of own.paths) {
          if (!same.paths.some((known) => this.samePath(known.path, entry.path))) same.paths.push(entry);
        }
        if (own.size !== undefined) same.size = own.size;
      }
    }
    specs.forEach((spec, i) => {
      for (const entry of spec.paths) {
        for (const other of specs.slice(0, i)) {
          const clash = other.paths.find(
            (known) => this.within(entry.path, known.path) || this.within(known.path, entry.path),
          );
          if (clash !== undefined) {
            this.problem(
              entry.at,
              `Path ${describeValue(entry.path)} overlaps ${describeValue(clash.path)} of volume "${other.name}"; a directory can belong to one volume only.`,
            );
          }
        }
      }
    });
    return specs.map(toRequest);
  }
}

function toRequest(spec: VolumeSpec): VolumeRequest {
  const size = spec.size ?? DEFAULT_CACHE_SIZE;
  return { name: spec.name, paths: spec.paths.map((entry) => entry.path), size, sizeBytes: parseSize(size) };
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
 *   then the step's new ones) and the step's `size` wins. A different name gives the step a
 *   second volume.
 * - `name` defaults to the pipeline slug; `size` defaults to `20g`, the minimum.
 * - `wait`, `block`, `input` and `trigger` steps (also written as a bare string) are passed
 *   over. `group` steps are read through: their `steps` are listed in order, with the group in
 *   {@link PipelineStep.group}. A `cache` key on a non-command step is an error.
 * - A document that is a bare list is read as the list of steps.
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
  const { pipelineSlug, os, filename } = parseOptions(
    parsePipelineOptionsSchema,
    options,
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

  const reader = new PipelineReader(pipelineSlug, os);
  if (Array.isArray(data)) {
    reader.readSteps(data, ['steps'], undefined);
  } else if (isPlainObject(data)) {
    if ('cache' in data) reader.defaultSpec = reader.readCache(data.cache, ['cache']);
    if ('steps' in data) reader.readSteps(data.steps, ['steps'], undefined);
    else reader.problem(['steps'], 'Missing: a pipeline needs a list of steps.');
  } else {
    reader.problem(
      [],
      `Expected a pipeline (a mapping with steps, and cache if any), got ${describeValue(data)}.`,
    );
  }

  if (reader.problems.length > 0) {
    const problems = reader.problems.map(({ segments, message }): ConfigProblem => {
      const at = locate?.(segments);
      return { path: formatYamlPath(segments), message, ...(at ?? {}) };
    });
    throw configProblemsError(problems, filename);
  }
  const defaultVolume = reader.defaultSpec === undefined ? null : toRequest(reader.defaultSpec);
  return { pipelineSlug, os, defaultVolume, steps: reader.steps };
}
