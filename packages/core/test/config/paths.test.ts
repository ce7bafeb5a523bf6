import { describe, expect, it } from 'vitest';
import {
  ABSOLUTE_PATHS_SUBDIR,
  cachePathFromSubdir,
  cacheSubdir,
  containerCacheVolumeName,
  gitMirrorVolumeName,
  isCacheVolumeError,
  normalizeCachePath,
  resolveCachePath,
} from '../../src/index.js';

function invalid(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isCacheVolumeError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error('expected an INVALID_ARGUMENT error');
}

describe('resolveCachePath', () => {
  it('resolves relative paths against the working directory, under their own spelling in the volume', () => {
    expect(resolveCachePath('./vendor//bundle/', { workdir: '/builds/agent/repo/', os: 'linux' })).toEqual({
      path: 'vendor/bundle',
      kind: 'relative',
      linkPath: '/builds/agent/repo/vendor/bundle',
      subdir: 'vendor/bundle',
    });
  });

  it('resolves absolute paths against the instance root, under .cachevol-root in the volume', () => {
    expect(resolveCachePath('/tmp/volume', { workdir: '/w', os: 'macos' })).toEqual({
      path: '/tmp/volume',
      kind: 'absolute',
      linkPath: '/tmp/volume',
      subdir: '.cachevol-root/tmp/volume',
    });
    expect(
      resolveCachePath('/tmp/volume', { workdir: '/w', instanceRoot: '/sandbox/root/', os: 'linux' })
        .linkPath,
    ).toBe('/sandbox/root/tmp/volume');
  });

  it('keeps a relative and an absolute path of the same spelling apart', () => {
    const options = { workdir: '/', os: 'linux' } as const;
    const relative = resolveCachePath('tmp/x', options);
    const absolute = resolveCachePath('/tmp/x', options);
    expect(relative.linkPath).toBe(absolute.linkPath); // same place on the host when workdir is /
    expect(relative.subdir).not.toBe(absolute.subdir); // but never the same volume subdirectory
  });

  it('refuses relative paths that spell the reserved subdirectory, in any case', () => {
    for (const path of [
      ABSOLUTE_PATHS_SUBDIR,
      `${ABSOLUTE_PATHS_SUBDIR}/tmp/x`,
      './.CacheVol-Root/x',
      'a/../.cachevol-root',
    ]) {
      expect(invalid(() => cacheSubdir(path, 'linux'))).toMatch(/reserved inside volumes/);
    }
    expect(cacheSubdir('/.cachevol-root/x', 'linux')).toBe('.cachevol-root/.cachevol-root/x');
    expect(cacheSubdir('a/.cachevol-root', 'linux')).toBe('a/.cachevol-root');
  });

  it('maps subdirectories back to the paths they hold', () => {
    for (const path of ['node_modules', '.build', 'a/b', '/tmp/volume', '/.cachevol-root/x']) {
      expect(cachePathFromSubdir(cacheSubdir(path, 'linux'))).toBe(path);
    }
    for (const subdir of [
      '',
      '/abs',
      '../x',
      ABSOLUTE_PATHS_SUBDIR,
      `${ABSOLUTE_PATHS_SUBDIR}/`,
      'a//b',
      '.CACHEVOL-ROOT/x',
    ]) {
      expect(invalid(() => cachePathFromSubdir(subdir))).toMatch(/^Invalid volume subdirectory/);
    }
  });

  it('refuses bad options, naming the option', () => {
    expect(invalid(() => resolveCachePath('a', { workdir: 'relative/dir', os: 'linux' }))).toMatch(/workdir/);
    expect(invalid(() => resolveCachePath('a', { workdir: '/w', instanceRoot: 'x', os: 'linux' }))).toMatch(
      /instanceRoot/,
    );
    expect(invalid(() => resolveCachePath('a', { workdir: '/w', os: 'plan9' as 'linux' }))).toMatch(/os/);
  });

  it('refuses control characters, a leading ~, and overlong names', () => {
    expect(invalid(() => normalizeCachePath('a\u0000b', 'linux'))).toMatch(/control characters/);
    expect(invalid(() => normalizeCachePath('a\nb', 'linux'))).toMatch(/control characters/);
    expect(invalid(() => normalizeCachePath('~/.cache', 'linux'))).toMatch(
      /"~" is expanded only by parsePipeline/,
    );
    expect(invalid(() => normalizeCachePath('x'.repeat(256), 'linux'))).toMatch(
      /segment is longer than 255 bytes/,
    );
    expect(invalid(() => normalizeCachePath('é'.repeat(128), 'linux'))).toMatch(/255 bytes/);
    expect(invalid(() => normalizeCachePath(`${'a/'.repeat(2048)}`, 'linux'))).toMatch(
      /longer than 4095 bytes/,
    );
    expect(normalizeCachePath('x'.repeat(255), 'linux')).toHaveLength(255);
    expect(normalizeCachePath('a/~b', 'linux')).toBe('a/~b');
  });
});

describe('special volume names', () => {
  it('names the container cache after the pipeline slug', () => {
    expect(containerCacheVolumeName('pipeline-slug')).toBe('pipeline-slug/container-cache');
    expect(invalid(() => containerCacheVolumeName('../x'))).toMatch(/pipeline slug/);
    expect(invalid(() => containerCacheVolumeName(''))).toMatch(/pipeline slug/);
  });

  it('names the git mirror after the account and repository, as the docs show', () => {
    expect(gitMirrorVolumeName({ account: 'my-account', repository: 'my-repository' })).toBe(
      'buildkite-git-mirror-my-account-my-repository',
    );
  });

  it('sanitises real account and repository names', () => {
    expect(gitMirrorVolumeName({ account: 'My Org', repository: 'Web_App.git' })).toBe(
      'buildkite-git-mirror-my-org-web_app',
    );
    expect(gitMirrorVolumeName({ account: '--ACME--', repository: 'a  /  b..c' })).toBe(
      'buildkite-git-mirror-acme-a-b..c',
    );
    expect(gitMirrorVolumeName({ account: 'Zoë', repository: 'déjà-vu!!' })).toBe(
      'buildkite-git-mirror-zo-d-j-vu',
    );
  });

  it('refuses names that sanitise to nothing, or to a name too long', () => {
    expect(invalid(() => gitMirrorVolumeName({ account: '!!!', repository: 'r' }))).toMatch(
      /Invalid account "!!!"/,
    );
    expect(invalid(() => gitMirrorVolumeName({ account: 'a', repository: '.git' }))).toMatch(
      /Invalid repository/,
    );
    expect(invalid(() => gitMirrorVolumeName({ account: 'a', repository: 'r'.repeat(200) }))).toMatch(
      /longer than 200/,
    );
  });
});
