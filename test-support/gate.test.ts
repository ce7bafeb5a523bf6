import { describe, expect, it } from 'vitest';
import { decide, probe, type System } from './gate.js';

const ALL_CAPS = 'CapEff:\t000001ffffffffff\n';
const TOOLS = [
  'btrfs',
  'mkfs.btrfs',
  'losetup',
  'mount',
  'umount',
  'zpool',
  'zfs',
  'modprobe',
  'ip',
  'unshare',
];
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A Linux machine run as root where everything is installed and running, changed by `overrides`. */
function machine(overrides: Partial<System> & { files?: Record<string, string> } = {}): System {
  const files: Record<string, string> = {
    '/proc/self/status': ALL_CAPS,
    '/proc/filesystems': 'nodev\tproc\n\text4\n\tbtrfs\n',
    '/dev/loop-control': '',
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104::/var/lib/postgresql:/bin/bash\n',
    ...overrides.files,
  };
  return {
    platform: 'linux',
    uid: 0,
    env: { PATH: '/usr/bin:/usr/sbin' },
    read: (path) => files[path],
    exists: (path) => path in files,
    list: (path) => (path === '/usr/lib/postgresql' ? ['13', '15'] : []),
    executable: (path) =>
      TOOLS.some((tool) => path === `/usr/sbin/${tool}`) ||
      ['initdb', 'pg_ctl', 'postgres'].some((tool) => path === `${PG_BIN}/${tool}`),
    run: () => ({ status: 0, stderr: '' }),
    ...overrides,
  };
}

describe('the availability gate', () => {
  it('says yes when everything is installed and running', () => {
    for (const need of ['root', 'btrfs', 'zfs', 'postgres', 'postgres-cluster', 'netns'] as const)
      expect(probe(need, machine())).toBeUndefined();
  });

  it('says no, with what to do, off Linux, without root, and without the privilege to mount', () => {
    expect(probe('btrfs', machine({ platform: 'darwin' }))).toBe('needs Linux, this is darwin');
    expect(probe('zfs', machine({ uid: 1000 }))).toBe('needs root (mount, losetup, pools)');
    expect(probe('root', machine({ files: { '/proc/self/status': 'CapEff:\t0000000000000000\n' } }))).toMatch(
      /CAP_SYS_ADMIN/,
    );
  });

  it('names a missing tool and its package, or the PATH entry that would find it', () => {
    const noBtrfs = machine({ executable: (path) => !path.endsWith('/mkfs.btrfs') });
    expect(probe('btrfs', noBtrfs)).toBe('mkfs.btrfs not found: install btrfs-progs');
    expect(probe('zfs', machine({ env: { PATH: '/usr/bin' } }))).toBe(
      'zpool is in /usr/sbin, which is not on PATH: add it to PATH',
    );
  });

  it('says yes to git-daemon only when git runs and has `git daemon`', () => {
    const withGit = (stderr: string) =>
      machine({
        executable: (path) => path === '/usr/bin/git',
        run: (program, args) => ({ status: program === 'git' && args[0] === 'daemon' ? 129 : 0, stderr }),
      });
    expect(probe('git-daemon', withGit('usage: git daemon [--verbose] [--syslog]\n'))).toBeUndefined();
    expect(probe('git-daemon', withGit("git: 'daemon' is not a git command. See 'git --help'.\n"))).toMatch(
      /git has no `git daemon` \(git: 'daemon' is not a git command/,
    );
    expect(probe('git-daemon', machine())).toBe('git not found: install git (apt-get install git)');
  });

  it('says no when ZFS is installed but its daemon does not answer', () => {
    const stopped = machine({
      run: (program) =>
        program === 'zpool'
          ? {
              status: 1,
              stderr:
                'connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\n',
            }
          : { status: 0, stderr: '' },
    });
    expect(probe('zfs', stopped)).toBe(
      'ZFS is not running (`zpool list` said: connect: No such file or directory Please make sure that the zfs-fuse daemon is running.): start `zfs-fuse` or `modprobe zfs`',
    );
    const hung = machine({ run: () => ({ status: null, stderr: '', error: 'no answer in 30 s' }) });
    expect(probe('zfs', hung)).toMatch(/^ZFS is not running \(`zpool list` said: no answer in 30 s\)/);
  });

  it('says no when the kernel has no btrfs, or there are no loop devices', () => {
    const noBtrfs = machine({
      files: { '/proc/filesystems': 'nodev\tproc\n\text4\n' },
      run: () => ({ status: 1, stderr: '' }),
    });
    expect(probe('btrfs', noBtrfs)).toMatch(/^the kernel has no btrfs/);
    const asModule = machine({ files: { '/proc/filesystems': 'nodev\tproc\n\text4\n' } });
    expect(probe('btrfs', asModule), 'a module modprobe can load is fine').toBeUndefined();
    const noLoop = machine({ exists: (path) => !path.startsWith('/dev/loop') });
    expect(probe('btrfs', noLoop)).toMatch(/^no loop devices/);
  });

  it('asks the PostgreSQL server at CACHEVOL_TEST_POSTGRES_URL for an answer, not only for binaries', () => {
    const url = 'postgres://postgres@/cachevol_test?host=/tmp/pg&port=5432';
    const asked: string[][] = [];
    const answering = machine({
      env: { PATH: '/usr/bin', CACHEVOL_TEST_POSTGRES_URL: url },
      list: () => [],
      run: (program, args) => {
        asked.push([program, ...args]);
        return { status: 0, stderr: '' };
      },
    });
    expect(probe('postgres', answering), 'no server binaries needed with a URL').toBeUndefined();
    expect(asked).toHaveLength(1);
    expect(asked[0]?.[0]).toBe(process.execPath);
    expect(asked[0]?.at(-1)).toBe(url);
    const down = machine({
      env: { CACHEVOL_TEST_POSTGRES_URL: url },
      run: () => ({ status: 1, stderr: 'connect ENOENT /tmp/pg/.s.PGSQL.5432\n' }),
    });
    expect(probe('postgres', down)).toBe(
      'PostgreSQL at CACHEVOL_TEST_POSTGRES_URL does not answer (connect ENOENT /tmp/pg/.s.PGSQL.5432): start it (`source .ci/postgres.sh; postgres_setup`), or unset the variable to let the tests start their own cluster',
    );
    expect(probe('postgres-cluster', down), 'a suite with its own cluster ignores the URL').toMatch(
      /does not run/,
    );
  });

  it('says why no throwaway PostgreSQL cluster can be started', () => {
    const noServer = machine({ list: () => [] });
    expect(probe('postgres-cluster', noServer)).toBe(
      'PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): install postgresql',
    );
    expect(probe('postgres', noServer)).toMatch(/install postgresql; or set CACHEVOL_TEST_POSTGRES_URL/);
    const noUser = machine({ files: { '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n' } });
    expect(probe('postgres-cluster', noUser)).toMatch(/^running as root, and there is no postgres user/);
    expect(probe('postgres-cluster', machine({ uid: 1000, files: { '/etc/passwd': '' } }))).toBeUndefined();
    const broken = machine({ run: () => ({ status: 127, stderr: 'error while loading shared libraries' }) });
    expect(probe('postgres-cluster', broken)).toBe(
      `${PG_BIN}/postgres does not run (error while loading shared libraries)`,
    );
  });

  it('says yes to netns only when a bridge and a veth pair can be made in a namespace of their own', () => {
    const asked: string[][] = [];
    const recording = machine({
      run: (program, args) => {
        asked.push([program, ...args]);
        return { status: 0, stderr: '' };
      },
    });
    expect(probe('netns', recording)).toBeUndefined();
    expect(asked[0]).toEqual(['ip', 'netns', 'list']);
    // Made in a throwaway namespace (unshare --net), so the probe leaves nothing behind.
    expect(asked.slice(1).every(([program, flag]) => program === 'unshare' && flag === '--net')).toBe(true);
    expect(probe('netns', machine({ uid: 1000 }))).toBe('needs root (ip netns add, veth pairs)');
    expect(probe('netns', machine({ executable: (path) => !path.endsWith('/ip') }))).toBe(
      'ip not found: install iproute2',
    );
    const noVeth = machine({
      run: (_program, args) =>
        args.includes('veth')
          ? { status: 2, stderr: 'Error: Unknown device type.\n' }
          : { status: 0, stderr: '' },
    });
    expect(probe('netns', noVeth)).toMatch(
      /^cannot make a veth pair in a new network namespace \(Error: Unknown device type\.\)/,
    );
  });

  it('skips outside CI and fails under CI=true when it says no', () => {
    expect(decide(undefined, { CI: 'true' })).toEqual({ action: 'run' });
    expect(decide('no zpool', {})).toEqual({ action: 'skip', reason: 'no zpool' });
    expect(decide('no zpool', { CI: 'false' })).toEqual({ action: 'skip', reason: 'no zpool' });
    expect(decide('no zpool', { CI: 'true' })).toEqual({ action: 'fail', reason: 'no zpool' });
  });
});
