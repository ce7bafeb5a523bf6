import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  ABSOLUTE_PATHS_SUBDIR,
  type CacheOs,
  cachePathFromSubdir,
  GIB,
  isCacheVolumeError,
  MACOS_RESERVED_PATHS,
  type ParsedPipeline,
  parsePipeline,
  type ResolvedCachePath,
  resolveCachePath,
  type VolumeRequest,
} from '../../src/index.js';
import { propertyParameters } from '../../src/testing/index.js';

// CACHEVOL_PROPERTY_RUNS raises the number of runs; CACHEVOL_SEED and CACHEVOL_PATH replay a
// failure (fast-check prints both in the error of a failing property).
const pipelineParams = propertyParameters(100);
const pathParams = propertyParameters(300);
const SLUG = 'my-pipeline';

// ---------------------------------------------------------------------------------------------
// Pipelines: a top-level cache and steps, in every form, with a reference model of the rules.

/** A volume as a generated config spells it: paths as written, optional name and size. */
interface Spec {
  name: string | undefined;
  size: string | undefined;
  paths: string[];
}

const NAMES = [SLUG, 'other', 'team/deps'];
const SIZES = ['20g', '35g', '100g'];

/** Paths for one volume: each volume has its own prefix, so two volumes never overlap. */
function arbPathFor(name: string): fc.Arbitrary<string> {
  const base = name.replace('/', '_');
  const path = fc
    .constantFrom('a', 'b/c', '.d', 'é ü', '/opt/e', '/tmp/f')
    .map((p) => (p.startsWith('/') ? `/${base}${p}` : `${base}-${p}`));
  return fc
    .tuple(path, fc.constantFrom('plain', 'dot', 'slash', 'double'))
    .map(([p, spelling]) =>
      spelling === 'dot' && !p.startsWith('/')
        ? `./${p}`
        : spelling === 'slash'
          ? `${p}/`
          : spelling === 'double'
            ? p.startsWith('/')
              ? `//x/..${p.replace('/opt', '//opt/.')}`
              : `x//../${p}`
            : p,
    );
}

const arbSpec: fc.Arbitrary<Spec> = fc
  .record({
    name: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
    size: fc.option(fc.constantFrom(...SIZES), { nil: undefined }),
  })
  .chain(({ name, size }) =>
    fc
      .array(arbPathFor(name ?? SLUG), { minLength: 1, maxLength: 4 })
      .map((paths) => ({ name, size, paths })),
  );

/** Writes a spec in one of the three forms the `cache` key accepts (the forms it can take). */
function arbCacheValue(spec: Spec): fc.Arbitrary<unknown> {
  const forms: unknown[] = [{ paths: spec.paths, ...optional(spec) }];
  if (spec.paths.length === 1) forms.push({ paths: spec.paths[0], ...optional(spec) });
  if (spec.name === undefined && spec.size === undefined) {
    forms.push(spec.paths);
    if (spec.paths.length === 1) forms.push(spec.paths[0]);
  }
  return fc.constantFrom(...forms);
}

function optional(spec: Spec): Record<string, string> {
  return {
    ...(spec.name === undefined ? {} : { name: spec.name }),
    ...(spec.size === undefined ? {} : { size: spec.size }),
  };
}

interface Generated {
  top: Spec | undefined;
  steps: (Spec | undefined)[];
  document: { cache?: unknown; steps: unknown[] };
}

const arbPipeline: fc.Arbitrary<Generated> = fc
  .record({
    top: fc.option(arbSpec, { nil: undefined }),
    steps: fc.array(fc.option(arbSpec, { nil: undefined }), { minLength: 1, maxLength: 6 }),
  })
  .chain(({ top, steps }) =>
    fc
      .record({
        cache: top === undefined ? fc.constant(undefined) : arbCacheValue(top),
        steps: fc.tuple(
          ...steps.map((spec, i) =>
            spec === undefined
              ? fc.constant({ command: `step ${i}` })
              : arbCacheValue(spec).map((cache) => ({ command: `step ${i}`, cache })),
          ),
        ),
      })
      .map(({ cache, steps: written }) => ({
        top,
        steps,
        document: { ...(cache === undefined ? {} : { cache }), steps: ['wait', ...written] },
      })),
  );

/** The normal spelling of a generated path (they hold no `..` that climbs out). */
function normal(path: string): string {
  const text = posix.normalize(path);
  return text.length > 1 ? text.replace(/\/$/, '') : text;
}

function unique(paths: string[]): string[] {
  return [...new Set(paths.map(normal))];
}

/** The rules of the product docs, written as plainly as possible. */
function expectedVolumes(top: Spec | undefined, own: Spec | undefined): VolumeRequest[] {
  const volumes: { name: string; paths: string[]; size: string | undefined }[] = [];
  if (top) volumes.push({ name: top.name ?? SLUG, paths: unique(top.paths), size: top.size });
  if (own) {
    const name = own.name ?? SLUG;
    const same = volumes.find((volume) => volume.name === name);
    if (same) {
      same.paths = unique([...same.paths, ...own.paths]);
      same.size = own.size ?? same.size;
    } else volumes.push({ name, paths: unique(own.paths), size: own.size });
  }
  return volumes.map(({ name, paths, size = '20g' }) => ({
    name,
    paths,
    size,
    sizeBytes: Number.parseInt(size, 10) * GIB,
  }));
}

const parse = (document: unknown, os: CacheOs = 'linux'): ParsedPipeline =>
  parsePipeline(document, { pipelineSlug: SLUG, os });

describe('pipeline merging (properties)', () => {
  it('follows the rules: default volume, merge by name, paths joined, step size wins', () => {
    fc.assert(
      fc.property(arbPipeline, ({ top, steps, document }) => {
        const parsed = parse(document);
        expect(parsed.steps.map((step) => step.volumes)).toEqual(
          steps.map((own) => expectedVolumes(top, own)),
        );
      }),
      pipelineParams,
    );
  });

  it('is deterministic, and reads the YAML text as the object', () => {
    fc.assert(
      fc.property(arbPipeline, fc.constantFrom<CacheOs>('linux', 'macos'), ({ document }, os) => {
        const first = parse(document, os);
        expect(parse(document, os)).toEqual(first);
        expect(parse(stringify(document), os)).toEqual(first);
      }),
      pipelineParams,
    );
  });

  it('is order-stable: a step gets the same volumes wherever it stands', () => {
    fc.assert(
      fc.property(
        arbPipeline.chain((generated) =>
          fc.tuple(
            fc.constant(generated),
            fc.shuffledSubarray(
              generated.document.steps.slice(1).map((_, i) => i),
              {
                minLength: generated.steps.length,
              },
            ),
          ),
        ),
        ([{ document }, order]) => {
          const written = document.steps.slice(1);
          const original = parse(document).steps.map((step) => step.volumes);
          const shuffled = parse({ ...document, steps: order.map((i) => written[i]) }).steps.map(
            (step) => step.volumes,
          );
          expect(shuffled).toEqual(order.map((i) => original[i]));
        },
      ),
      pipelineParams,
    );
  });

  it('gives every step every top-level path, first and in order', () => {
    fc.assert(
      fc.property(arbPipeline, ({ top, document }) => {
        fc.pre(top !== undefined);
        const parsed = parse(document);
        const topPaths = parsed.defaultVolume?.paths ?? [];
        expect(topPaths).toEqual(unique(top?.paths ?? []));
        for (const step of parsed.steps) {
          const volume = step.volumes.find((v) => v.name === parsed.defaultVolume?.name);
          expect(volume?.paths.slice(0, topPaths.length)).toEqual(topPaths);
          expect(step.volumes[0]).toBe(volume);
        }
      }),
      pipelineParams,
    );
  });

  it("lets the step's size win on a shared name, and keeps the top-level size otherwise", () => {
    fc.assert(
      fc.property(arbPipeline, ({ top, steps, document }) => {
        const parsed = parse(document);
        steps.forEach((own, i) => {
          const volumes = parsed.steps[i]?.volumes ?? [];
          const topName = top === undefined ? undefined : (top.name ?? SLUG);
          const shared = own !== undefined && (own.name ?? SLUG) === topName;
          const defaultVolume = volumes.find((v) => v.name === topName);
          if (shared) expect(defaultVolume?.size).toBe(own?.size ?? top?.size ?? '20g');
          else if (top !== undefined) expect(defaultVolume?.size).toBe(top.size ?? '20g');
          if (own !== undefined && !shared) {
            expect(volumes.find((v) => v.name === (own.name ?? SLUG))?.size).toBe(own.size ?? '20g');
          }
        });
      }),
      pipelineParams,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Path resolution: fuzzed spellings never escape their roots, and never share a subdirectory.

const arbSegment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('..', '.', '', 'a', 'B', 'tmp', 'TMP', 'private', 'var', '~', '...'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(ABSOLUTE_PATHS_SUBDIR, '.CacheVol-Root', '.cachevol-rootx', '.cachevol-root '),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 300 }).map((n) => 'l'.repeat(n)) },
);

const arbPath = fc
  .tuple(
    fc.constantFrom('', '/', '//', './'),
    fc.array(fc.tuple(arbSegment, fc.constantFrom('/', '//', '/./')), { maxLength: 8 }),
    fc.constantFrom('', '/', '/.'),
  )
  .map(
    ([head, parts, tail]) =>
      head + parts.map(([segment, sep], i) => (i === 0 ? segment : sep + segment)).join('') + tail,
  );

const arbRoot = fc
  .array(fc.constantFrom('w', 'builds', 'ägent', 'x y', '..', '.'), { maxLength: 4 })
  .map((parts) => `/${parts.join('/')}`);

const arbOs = fc.constantFrom<CacheOs>('linux', 'macos');

/** Resolves, or returns `undefined` when the path is refused with INVALID_ARGUMENT. */
function tryResolve(
  path: string,
  workdir: string,
  instanceRoot: string,
  os: CacheOs,
): ResolvedCachePath | undefined {
  try {
    return resolveCachePath(path, { workdir, instanceRoot, os });
  } catch (error) {
    if (isCacheVolumeError(error, 'INVALID_ARGUMENT')) return undefined;
    throw error;
  }
}

/** True when `path` lies strictly inside `root`. */
function strictlyInside(path: string, root: string): boolean {
  const relative = posix.relative(root, path);
  return relative !== '' && relative !== '..' && !relative.startsWith('../') && !posix.isAbsolute(relative);
}

describe('cache path resolution (properties)', () => {
  it('never escapes the working directory or the instance root', () => {
    fc.assert(
      fc.property(arbPath, arbRoot, arbRoot, arbOs, (path, workdir, instanceRoot, os) => {
        const resolved = tryResolve(path, workdir, instanceRoot, os);
        if (resolved === undefined) return;
        const root = posix.normalize(resolved.kind === 'absolute' ? instanceRoot : workdir);
        expect(strictlyInside(resolved.linkPath, root)).toBe(true);
        expect(resolved.linkPath).toBe(posix.join(root, resolved.path));
        expect(resolved.kind).toBe(path.startsWith('/') ? 'absolute' : 'relative');
        // Lexical `..` handling agrees with Node's path module where nothing climbs out.
        expect(resolved.linkPath).toBe(posix.join(root, path).replace(/(.)\/+$/, '$1'));
        const segments = resolved.subdir.split('/');
        expect(resolved.subdir.startsWith('/')).toBe(false);
        expect(segments.every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
        expect(cachePathFromSubdir(resolved.subdir)).toBe(resolved.path);
        if (os === 'macos' && resolved.kind === 'absolute') {
          expect(MACOS_RESERVED_PATHS).not.toContain(resolved.path.toLowerCase());
        }
      }),
      pathParams,
    );
  });

  it('refuses every path whose ".." climbs out of its root at any point', () => {
    fc.assert(
      fc.property(arbPath, arbOs, (path, os) => {
        let depth = 0;
        let climbsOut = false;
        for (const segment of path.split('/')) {
          if (segment === '..') depth -= 1;
          else if (segment !== '' && segment !== '.') depth += 1;
          if (depth < 0) climbsOut = true;
        }
        if (climbsOut) expect(tryResolve(path, '/w', '/', os)).toBeUndefined();
      }),
      pathParams,
    );
  });

  it('never maps a relative and an absolute path to the same volume subdirectory', () => {
    fc.assert(
      fc.property(arbPath, arbPath, arbOs, (first, second, os) => {
        const spelling = first.replace(/^\/+/, '');
        const pairs: [string, string][] = [
          [spelling, `/${spelling}`],
          [`${ABSOLUTE_PATHS_SUBDIR}/${spelling}`, `/${spelling}`],
          [`./${ABSOLUTE_PATHS_SUBDIR.toUpperCase()}//${spelling}`, `/${spelling}`],
          [first, second],
        ];
        for (const [a, b] of pairs) {
          const x = tryResolve(a, '/w', '/', os);
          const y = tryResolve(b, '/w', '/', os);
          if (x === undefined || y === undefined) continue;
          // Compared without letter case, as a case-insensitive filesystem (APFS) would.
          const same = x.subdir.toLowerCase() === y.subdir.toLowerCase();
          if (x.kind !== y.kind) expect(same).toBe(false);
          if (x.path === y.path) expect(x.subdir).toBe(y.subdir);
          else expect(x.subdir).not.toBe(y.subdir);
        }
      }),
      pathParams,
    );
  });
});
