import {
  mirrorCloneArgs,
  mirrorCopyCloneArgs,
  mirrorFetchArgs,
  plainCloneArgs,
  repositoryOfUrl,
  setOriginArgs,
  validateCommit,
  validateRef,
  validateRepositoryUrl,
} from '@cachevol/core/git-mirror';
import { describe, expect, it } from 'vitest';

describe('validateRepositoryUrl', () => {
  it.each([
    'https://github.com/acme/widgets.git',
    'http://127.0.0.1:8080/acme/widgets',
    'git://127.0.0.1:9418/acme/widgets.git',
    'ssh://git@github.com/acme/widgets.git',
    'file:///srv/git/widgets.git',
    'git@github.com:acme/widgets.git',
    '/srv/git/acme/widgets.git',
  ])('accepts %s', (url) => {
    expect(validateRepositoryUrl(url)).toBe(url);
  });

  it.each([
    ['', /give the URL/],
    ['--upload-pack=touch /tmp/x', /may not start with "-"/],
    ['-oProxyCommand=x', /may not start with "-"/],
    ['ext::sh -c touch% /tmp/x', /spaces or control characters/],
    ['ext::sh', /use an https:\/\//],
    ['fd::3', /use an https:\/\//],
    ['relative/path', /use an https:\/\//],
    ['https://host/a\nb', /spaces or control characters/],
    ['ftp://host/repo.git', /use an https:\/\//],
  ])('refuses %j', (url, why) => {
    expect(() => validateRepositoryUrl(url)).toThrow(why);
  });
});

describe('validateCommit and validateRef', () => {
  it('takes 7 to 64 hex digits as a commit, lowercased', () => {
    expect(validateCommit('ABCDEF0')).toBe('abcdef0');
    expect(validateCommit('a'.repeat(40))).toBe('a'.repeat(40));
    for (const bad of ['abc123', 'g'.repeat(40), '-abcdef0', 'a'.repeat(65), 'HEAD'])
      expect(() => validateCommit(bad)).toThrow(/Invalid commit/);
  });

  it.each(['main', 'HEAD', 'v1.2.0', 'feature/x-1', 'refs/pull/7/head', 'refs/tags/v1'])(
    'takes the ref %s',
    (ref) => {
      expect(validateRef(ref)).toBe(ref);
    },
  );

  it.each([
    '',
    '-x',
    '--upload-pack=x',
    'a..b',
    'a b',
    'a~1',
    'a^',
    'a:b',
    'a?',
    'a*',
    'a[',
    'a\\b',
    '/a',
    'a/',
    'a.',
    'a//b',
    '@',
    'a@{1}',
    '.a',
    'a/.b',
    'x.lock',
    'a/b.lock/c',
  ])('refuses the ref %j', (ref) => {
    expect(() => validateRef(ref)).toThrow(/Invalid ref/);
  });
});

describe('repositoryOfUrl', () => {
  it.each([
    ['https://github.com/acme/widgets.git', 'acme', 'widgets'],
    ['git://127.0.0.1:9418/acme/widgets.git', 'acme', 'widgets'],
    ['git@github.com:acme/widgets.git', 'acme', 'widgets'],
    ['https://host/widgets', 'host', 'widgets'],
    ['https://gitlab.example/group/sub/widgets.git/', 'sub', 'widgets'],
    ['/srv/git/widgets.git', 'git', 'widgets'],
  ])('%s is %s/%s', (url, account, repository) => {
    expect(repositoryOfUrl(url)).toEqual({ account, repository });
  });

  it('refuses a URL without a path', () => {
    expect(() => repositoryOfUrl('https://host/')).toThrow(/names no repository/);
  });
});

describe('the git command lines', () => {
  it('end the options before every URL and directory', () => {
    expect(mirrorCloneArgs('git://h/r', '/m')).toEqual([
      'clone',
      '--mirror',
      '--quiet',
      '--',
      'git://h/r',
      '/m',
    ]);
    expect(mirrorCopyCloneArgs('/m', '/w')).toEqual([
      'clone',
      '--quiet',
      '--no-checkout',
      '--no-hardlinks',
      '--',
      '/m',
      '/w',
    ]);
    expect(setOriginArgs('/w', 'git://h/r')).toEqual([
      '-C',
      '/w',
      'remote',
      'set-url',
      '--',
      'origin',
      'git://h/r',
    ]);
    expect(plainCloneArgs('git://h/r', '/w')).toEqual([
      'clone',
      '--quiet',
      '--no-checkout',
      '--',
      'git://h/r',
      '/w',
    ]);
  });

  it('fetch only what is asked for into the mirror', () => {
    expect(mirrorFetchArgs('/m', ['main'])).toEqual(['-C', '/m', 'fetch', '--quiet', 'origin', 'main']);
  });
});
