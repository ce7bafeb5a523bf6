import { describe, expect, it } from 'vitest';
import {
  ABSOLUTE_PATHS_SUBDIR,
  CACHE_OS,
  cachePathFromSubdir,
  cacheSubdir,
  expandCacheHome,
  MACOS_RESERVED_PATHS,
  MAX_CACHE_PATH_BYTES,
  MAX_PATH_SEGMENT_BYTES,
  normalizeCachePath,
  resolveCachePath,
  resolveCachePathOptionsSchema,
} from '../../src/config/paths.js';

/** Rules of cache paths (`config/paths.ts`), one test per rule. */

function refusal(run: () => unknown): { message: string; details?: unknown } {
  try {
    run();
  } catch (error) {
    const e = error as { code?: string; message: string; details?: unknown };
    expect(e.code).toBe('INVALID_ARGUMENT');
    return e;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

const refused = (path: unknown, os: 'linux' | 'macos' = 'linux') =>
  refusal(() => normalizeCachePath(path, os));

describe('normalizeCachePath', () => {
  it('knows linux and macos', () => {
    expect(CACHE_OS).toEqual(['linux', 'macos']);
  });

  it('drops . segments and repeated or trailing slashes, and applies ..', () => {
    expect(normalizeCachePath('./vendor//bundle/', 'linux')).toBe('vendor/bundle');
    expect(normalizeCachePath('//tmp/.', 'linux')).toBe('/tmp');
    expect(normalizeCachePath('a/../b', 'linux')).toBe('b');
    expect(normalizeCachePath('a/b/../../c/./d', 'linux')).toBe('c/d');
    expect(normalizeCachePath('/x/../y', 'linux')).toBe('/y');
  });

  it('refuses a non-string or an empty path, saying what to write', () => {
    expect(refused(5).message).toBe('Invalid cache path 5: expected a string.');
    expect(refused('').message).toBe(
      'Invalid cache path "": a path may not be empty; write a directory such as "node_modules" or "/tmp/volume".',
    );
    expect(refused('').details).toEqual({ path: '' });
  });

  it('refuses control characters (U+0000 to U+001F and U+007F), and nothing else', () => {
    for (const c of ['\u0000', '\u0001', '\t', '\u001f', '\u007f'])
      expect(refused(`a${c}b`).message).toMatch(
        /: control characters \(NUL, newline, tab\) are not allowed\.$/,
      );
    for (const c of [' ', '\u0080', '~', 'é']) expect(normalizeCachePath(`a${c}b`, 'linux')).toBe(`a${c}b`);
  });

  it('accepts a path of exactly 4095 bytes and refuses 4096, counting UTF-8 bytes', () => {
    expect(MAX_CACHE_PATH_BYTES).toBe(4095);
    const segment = 'a'.repeat(255);
    const longest = Array.from({ length: 16 }, () => segment).join('/');
    expect(Buffer.byteLength(longest)).toBe(4095);
    expect(normalizeCachePath(longest, 'linux')).toBe(longest);
    expect(refused(`${longest}/`).message).toMatch(/: it is longer than 4095 bytes\.$/);
    expect(refused(`é${longest.slice(1)}`).message).toMatch(/longer than 4095 bytes/);
  });

  it('accepts a segment of exactly 255 bytes and refuses 256, counting UTF-8 bytes', () => {
    expect(MAX_PATH_SEGMENT_BYTES).toBe(255);
    expect(normalizeCachePath(`${'é'.repeat(127)}a`, 'linux')).toHaveLength(128);
    expect(refused('é'.repeat(128)).message).toMatch(/: a segment is longer than 255 bytes\.$/);
    expect(refused(`/x/${'a'.repeat(256)}`).message).toMatch(/a segment is longer than 255 bytes/);
  });

  it('refuses .. that climbs out of its root at any point, naming the root (never clamping /../x to /x)', () => {
    for (const path of ['..', '../x', 'a/../..', 'a/../../a', './..'])
      expect(refused(path).message).toBe(
        `Invalid cache path ${JSON.stringify(path)}: ".." climbs out of the step's working directory.`,
      );
    for (const path of ['/..', '/../x', '/a/../../a'])
      expect(refused(path).message).toMatch(/: "\.\." climbs out of the instance root\.$/);
  });

  it('refuses paths naming the root itself, with an example of what to write', () => {
    for (const path of ['.', './', 'a/..', './/.'])
      expect(refused(path).message).toBe(
        `Invalid cache path ${JSON.stringify(path)}: it names the step's working directory itself; name a directory inside it, such as "node_modules".`,
      );
    for (const path of ['/', '//', '/.', '/a/..'])
      expect(refused(path).message).toMatch(
        /: it names the instance root itself; name a directory inside it, such as "\/tmp\/volume"\.$/,
      );
  });

  it('refuses a leading ~ (~, ~/x and ~user/x), which only parsePipeline expands; ~ elsewhere is a plain character', () => {
    for (const path of ['~', '~/.cache', './~'])
      expect(refused(path).message).toMatch(
        /: "~" is expanded only by parsePipeline, from the home directory \(HOME\); here write an absolute path\.$/,
      );
    for (const path of ['~user/x', './~user', 'a/../~x'])
      expect(refused(path).message).toMatch(
        /: "~\w+" \(another user's home\) is not expanded; write an absolute path\.$/,
      );
    expect(normalizeCachePath('/~user/x', 'linux')).toBe('/~user/x');
    expect(normalizeCachePath('a/~b', 'linux')).toBe('a/~b');
    expect(normalizeCachePath('x~', 'linux')).toBe('x~');
  });

  it('refuses glob patterns, naming the character, never taking them literally', () => {
    for (const [path, char] of [
      ['node_modules/**', '*'],
      ['a?', '?'],
      ['/opt/[x]', '['],
      ['{a,b}', '{'],
      ['a]b}', undefined],
    ] as const) {
      if (char === undefined) expect(normalizeCachePath(path, 'linux')).toBe(path);
      else
        expect(refused(path).message).toBe(
          `Invalid cache path ${JSON.stringify(path)}: "${char}" makes it a glob pattern, and globs are not expanded: a cache path names one directory, kept whole with everything below it; name that directory (such as "node_modules" instead of "node_modules/**").`,
        );
    }
  });

  it('refuses relative paths in the reserved subdirectory, in any letter case or compatible spelling', () => {
    expect(ABSOLUTE_PATHS_SUBDIR).toBe('.cachevol-root');
    for (const path of ['.cachevol-root', '.CACHEVOL-ROOT/x', './.CacheVol-Root', '.\uff43achevol-root'])
      expect(refused(path).message).toMatch(
        /: "\.cachevol-root" is reserved inside volumes for absolute paths; use another name\.$/,
      );
    expect(normalizeCachePath('/.cachevol-root', 'linux')).toBe('/.cachevol-root');
    expect(normalizeCachePath('a/.cachevol-root', 'linux')).toBe('a/.cachevol-root');
    expect(normalizeCachePath('.cachevol-roots', 'linux')).toBe('.cachevol-roots');
  });

  it('on macOS refuses exactly the reserved paths, in any case; sub-paths, relative paths and Linux are fine', () => {
    expect([...MACOS_RESERVED_PATHS]).toEqual([
      '/tmp',
      '/private',
      '/var',
      '/etc',
      '/private/tmp',
      '/private/var',
      '/private/etc',
    ]);
    expect(Object.isFrozen(MACOS_RESERVED_PATHS)).toBe(true);
    for (const path of [...MACOS_RESERVED_PATHS, '/TMP', '/Private/Var/', '//etc/.']) {
      const message = refused(path, 'macos').message;
      expect(message).toMatch(
        / is reserved on macOS \(reserved: \/tmp, \/private, \/var, \/etc, \/private\/tmp, \/private\/var, \/private\/etc\); use a sub-path such as "/,
      );
      expect(normalizeCachePath(path, 'linux')).toBe(path.replace(/\/\.$|\/$/, '').replace('//', '/'));
    }
    expect(refused('/Tmp', 'macos').message).toMatch(
      /: \/Tmp is reserved on macOS .*such as "\/Tmp\/volume"\.$/,
    );
    for (const path of ['/tmp/volume', '/private/tmp/x', 'tmp', 'private', '/usr', '/tmpx'])
      expect(normalizeCachePath(path, 'macos')).toBe(path);
  });
});

describe('expandCacheHome', () => {
  it('puts the home directory in place of ~ and a leading ~/, and changes nothing else', () => {
    expect(expandCacheHome('~', '/home/a')).toBe('/home/a');
    expect(expandCacheHome('~/.cache/pip', '/home/a')).toBe('/home/a/.cache/pip');
    expect(expandCacheHome('~/x', '/home/a//')).toBe('/home/a/x');
    expect(expandCacheHome('~/x', '/')).toBe('/x');
    expect(expandCacheHome('~', '/')).toBe('/');
    for (const path of ['~user/x', '~~', 'a/~', '/~/x', './~/x', ' ~/x'])
      expect(expandCacheHome(path, '/home/a')).toBe(path);
    expect(expandCacheHome('x', undefined)).toBe('x');
  });

  it('refuses ~ without a home directory, naming the path', () => {
    expect(refusal(() => expandCacheHome('~/x', undefined))).toMatchObject({
      message: 'Invalid cache path "~/x": "~" needs a home directory, and none is known (HOME is not set).',
      details: { path: '~/x' },
    });
  });
});

describe('cacheSubdir and cachePathFromSubdir', () => {
  it('keeps a relative path under its own spelling and an absolute one under .cachevol-root', () => {
    expect(cacheSubdir('./node_modules/', 'linux')).toBe('node_modules');
    expect(cacheSubdir('/tmp/x', 'linux')).toBe('.cachevol-root/tmp/x');
    expect(() => cacheSubdir('/tmp', 'macos')).toThrow(/reserved on macOS/);
  });

  it('maps each subdirectory back to the path it holds', () => {
    for (const path of ['a', 'a/b', '.build', '/tmp/x', '/.cachevol-root/y', '/a']) {
      expect(cachePathFromSubdir(cacheSubdir(path, 'linux'))).toBe(path);
    }
  });

  it('refuses what cacheSubdir never makes: absolute, unnormalised, the bare prefix, non-strings', () => {
    for (const subdir of [
      '',
      '/abs',
      'a//b',
      'a/',
      './a',
      '../a',
      '.cachevol-root',
      '.cachevol-root/',
      '.cachevol-root//a',
      '.cachevol-root/a/',
      '.cachevol-root/../a',
      '.CACHEVOL-ROOT/a',
      7,
    ])
      expect(refusal(() => cachePathFromSubdir(subdir as string)).message).toBe(
        `Invalid volume subdirectory ${typeof subdir === 'string' ? JSON.stringify(subdir) : subdir}: expected one that cacheSubdir() returns.`,
      );
    expect(refusal(() => cachePathFromSubdir('/abs')).details).toEqual({ subdir: '/abs' });
  });
});

describe('resolveCachePath', () => {
  it('links a relative path inside the working directory and an absolute one inside the instance root', () => {
    expect(resolveCachePath('a/b', { workdir: '/w', os: 'linux' })).toEqual({
      path: 'a/b',
      kind: 'relative',
      linkPath: '/w/a/b',
      subdir: 'a/b',
    });
    expect(resolveCachePath('/opt/x', { workdir: '/w', os: 'linux' })).toEqual({
      path: '/opt/x',
      kind: 'absolute',
      linkPath: '/opt/x',
      subdir: '.cachevol-root/opt/x',
    });
    expect(resolveCachePath('/opt/x', { workdir: '/w', instanceRoot: '/root/', os: 'linux' }).linkPath).toBe(
      '/root/opt/x',
    );
  });

  it('normalises the roots: dots, doubled and trailing slashes; / stays /', () => {
    expect(resolveCachePath('a', { workdir: '//w//x/./', os: 'linux' }).linkPath).toBe('/w/x/a');
    expect(resolveCachePath('a', { workdir: '/w/x/..', os: 'linux' }).linkPath).toBe('/w/a');
    expect(resolveCachePath('a', { workdir: '/', os: 'linux' }).linkPath).toBe('/a');
    expect(resolveCachePath('/a', { workdir: '/w', instanceRoot: '//', os: 'linux' }).linkPath).toBe('/a');
  });

  it('refuses relative or control-character roots, unknown options and unknown systems, naming the option', () => {
    for (const [options, name] of [
      [{ workdir: 'w', os: 'linux' }, /workdir must be an absolute path/],
      [{ workdir: '/w\n', os: 'linux' }, /workdir must be an absolute path/],
      [{ workdir: '/w', instanceRoot: 'r', os: 'linux' }, /instanceRoot must be an absolute path/],
      [{ workdir: '/w', instanceRoot: '/r\u0000', os: 'linux' }, /instanceRoot must be an absolute path/],
      [{ workdir: '/w', os: 'windows' }, /os/],
      [{ workdir: '/w', os: 'linux', extra: 1 }, /extra/],
    ] as const)
      expect(refusal(() => resolveCachePath('a', options as never)).message).toMatch(name);
  });

  it('says that the options are the problem', () => {
    expect(refusal(() => resolveCachePath('a', { workdir: 'w', os: 'linux' })).message).toMatch(
      /^Invalid cache path options: workdir: workdir must be an absolute path\.$/,
    );
  });

  it('applies the rules of the system it is given', () => {
    expect(() => resolveCachePath('/tmp', { workdir: '/w', os: 'macos' })).toThrow(/reserved on macOS/);
    expect(resolveCachePath('/tmp', { workdir: '/w', os: 'linux' }).path).toBe('/tmp');
    expect(() => resolveCachePath('../x', { workdir: '/w', os: 'linux' })).toThrow(/climbs out/);
  });
});

describe('the options schema', () => {
  it('roots absolute cache paths at / unless told otherwise', () => {
    expect(resolveCachePathOptionsSchema.parse({ workdir: '/w', os: 'linux' })).toEqual({
      workdir: '/w',
      instanceRoot: '/',
      os: 'linux',
    });
  });

  it('describes each option for generated docs', () => {
    const { workdir, instanceRoot, os } = resolveCachePathOptionsSchema.shape;
    expect(workdir.description).toBe("the step's working directory on the host (absolute)");
    expect(instanceRoot.description).toBe('the host directory that absolute cache paths are relative to');
    expect(os.description).toBe('whose path rules apply: linux or macos');
  });
});
