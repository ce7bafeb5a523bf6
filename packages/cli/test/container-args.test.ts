import { describe, expect, it } from 'vitest';
import { dockerdArgs, MAX_EXEC_ROOT } from '../src/internal/container/dockerd-args.js';
import { mountsUnder } from '../src/internal/container/mounts.js';

const PATHS = {
  dataRoot: '/cache/forks/f-1/docker',
  execRoot: '/tmp/cachevol-docker-abc123/x',
  pidFile: '/tmp/cachevol-docker-abc123/dockerd.pid',
  socket: '/tmp/cachevol-docker-abc123/docker.sock',
  configFile: '/tmp/cachevol-docker-abc123/daemon.json',
};

describe("a job's dockerd command line", () => {
  it('gives every directory, forces overlay2 and sets up no host networking', () => {
    expect(dockerdArgs(PATHS)).toEqual([
      '--data-root',
      '/cache/forks/f-1/docker',
      '--exec-root',
      '/tmp/cachevol-docker-abc123/x',
      '--pidfile',
      '/tmp/cachevol-docker-abc123/dockerd.pid',
      '--host',
      'unix:///tmp/cachevol-docker-abc123/docker.sock',
      '--config-file',
      '/tmp/cachevol-docker-abc123/daemon.json',
      '--storage-driver',
      'overlay2',
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip6tables=false',
    ]);
  });

  it('refuses relative paths (never an option), commas, and paths too long for sockets', () => {
    expect(() => dockerdArgs({ ...PATHS, dataRoot: '-x' })).toThrow(/Invalid data root "-x"/);
    expect(() => dockerdArgs({ ...PATHS, dataRoot: 'docker' })).toThrow(/absolute path/);
    expect(() => dockerdArgs({ ...PATHS, pidFile: '/a,b' })).toThrow(/without commas/);
    const long = `/${'d'.repeat(MAX_EXEC_ROOT)}`;
    expect(() => dockerdArgs({ ...PATHS, execRoot: long })).toThrow(/containerd could not make its sockets/);
    expect(() => dockerdArgs({ ...PATHS, socket: `/${'s'.repeat(120)}` })).toThrow(/longer than 107 bytes/);
  });
});

describe('mounts under a directory', () => {
  it('lists the directory and what is below it, deepest first, with escaped spaces read', async () => {
    const mounts = [
      'overlay /var/lib/x/docker/overlay2/a/merged overlay rw 0 0',
      '/dev/loop1 /var/lib/x btrfs rw 0 0',
      'overlay /var/lib/x/docker/overlay2/with\\040space/merged overlay rw 0 0',
      'tmpfs /var/lib/xy tmpfs rw 0 0',
      '/dev/sda1 / ext4 rw 0 0',
    ].join('\n');
    expect(await mountsUnder('/var/lib/x', mounts)).toEqual([
      '/var/lib/x/docker/overlay2/with space/merged',
      '/var/lib/x/docker/overlay2/a/merged',
      '/var/lib/x',
    ]);
  });
});
