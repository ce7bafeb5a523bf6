import { describe, expect, it } from 'vitest';
import { copyCommand } from '../src/internal/copy-command.js';

describe('copyCommand', () => {
  it('runs GNU `cp -a -T` with the reflink mode on Linux', () => {
    expect(copyCommand('/r/versions/v1', '/r/tmp/fork.f2.abc', 'copy', 'linux')).toEqual({
      command: 'cp',
      args: ['-a', '-T', '--reflink=never', '--', '/r/versions/v1', '/r/tmp/fork.f2.abc'],
    });
    expect(copyCommand('/a', '/b', 'clone', 'linux').args).toEqual([
      '-a',
      '-T',
      '--reflink=always',
      '--',
      '/a',
      '/b',
    ]);
    expect(copyCommand('/a', '/b', 'clone-or-copy', 'linux').args).toEqual([
      '-a',
      '-T',
      '--reflink=auto',
      '--',
      '/a',
      '/b',
    ]);
  });

  it('clones with `cp -c` on macOS and copies the contents of `from/`', () => {
    expect(copyCommand('/a', '/b', 'clone', 'darwin')).toEqual({
      command: 'cp',
      args: ['-a', '-c', '--', '/a/', '/b'],
    });
    expect(copyCommand('/a', '/b', 'clone-or-copy', 'darwin').args).toEqual(['-a', '-c', '--', '/a/', '/b']);
    expect(copyCommand('/a', '/b', 'copy', 'darwin').args).toEqual(['-a', '--', '/a/', '/b']);
  });

  it('passes paths that look like options as paths', () => {
    expect(copyCommand('-rf', '--reflink=always', 'copy', 'linux').args.slice(-3)).toEqual([
      '--',
      '-rf',
      '--reflink=always',
    ]);
  });
});
