import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/internal/commands/index.js';
import { defaultRoot, parseDuration, readGlobals } from '../src/internal/globals.js';
import { commandHelp, mainHelp } from '../src/internal/help.js';
import { parseCommandLine } from '../src/internal/parse.js';
import { UsageError } from '../src/internal/usage-error.js';

const parse = (...argv: string[]) => parseCommandLine(argv, COMMANDS);
const usage = (...argv: string[]) => {
  try {
    parse(...argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
};

describe('parseCommandLine', () => {
  it('finds the command among global flags and parses its flags', () => {
    const inv = parse('--root', '/r', 'attach', 'deps', '--path', 'a', '-p', 'b', '--json');
    expect(inv).toMatchObject({ kind: 'command', spec: { name: 'attach' } });
    if (inv.kind !== 'command') throw new Error('unreachable');
    expect(inv.args.positionals).toEqual(['deps']);
    expect(inv.args.values).toMatchObject({ root: '/r', path: ['a', 'b'], json: true });
  });

  it('splits off the command of `run` after --, keeping its own flags intact', () => {
    const inv = parse('run', '--cache', 'node_modules', '--', 'npm', 'ci', '--json', '--', 'x');
    if (inv.kind !== 'command') throw new Error('expected a command');
    expect(inv.args.command).toEqual(['npm', 'ci', '--json', '--', 'x']);
    expect(inv.args.values).toMatchObject({ cache: ['node_modules'] });
  });

  it('reads sub-commands', () => {
    expect(parse('pipeline', 'plan', 'p.yml', '--slug', 's')).toMatchObject({
      kind: 'command',
      spec: { name: 'pipeline plan' },
    });
    expect(parse('pipeline', '--help')).toEqual({ kind: 'help', command: null, group: 'pipeline' });
  });

  it('answers --help for every command, even with other flags missing', () => {
    for (const spec of COMMANDS) {
      expect(parse(...spec.name.split(' '), '--help')).toEqual({ kind: 'help', command: spec, group: null });
      expect(commandHelp(spec)).toContain(`Usage: cachevol ${spec.name}`);
    }
    expect(parse()).toMatchObject({ kind: 'help', command: null });
    expect(parse('help', 'run')).toMatchObject({ kind: 'help', command: { name: 'run' } });
    expect(parse('--version')).toEqual({ kind: 'version' });
    expect(mainHelp(COMMANDS)).toContain('Exit codes');
  });

  it('reports bad command lines as one-line usage errors', () => {
    expect(usage('frobnicate')).toBe("unknown command 'frobnicate'");
    expect(usage('ls', '--frob')).toBe("unknown option '--frob' for `cachevol ls`");
    expect(usage('attach', 'deps', '--path')).toBe("option '--path' needs a value");
    expect(usage('ls', '--json=yes')).toBe("option '--json' does not take a value");
    expect(usage('attach')).toBe('missing NAME (the volume name, e.g. node-modules)');
    expect(usage('ls', 'extra')).toBe("unexpected argument 'extra' for `cachevol ls`");
    expect(usage('run', 'npm', 'test')).toContain("missing '--' before the command to run");
    expect(usage('run', '--')).toBe("missing the command to run after '--'");
    expect(usage('ls', '--', 'x')).toContain('does not run a command');
    expect(usage('pipeline')).toContain('needs a sub-command');
    expect(usage('--root', 'x')).toBe('missing command');
  });
});

describe('readGlobals', () => {
  const io = (env: Record<string, string> = {}) => ({
    stdout: { write() {} },
    stderr: { write() {} },
    env,
    cwd: '/here',
  });
  const globals = (values: Record<string, string>, env?: Record<string, string>) =>
    readGlobals({ values, positionals: [], command: [] }, io(env), 'ls');

  it('takes flags over environment over defaults, and makes the root absolute', () => {
    expect(globals({})).toEqual({ backend: 'dir', root: defaultRoot({}), store: 'sqlite', peers: [] });
    expect(
      globals({}, { CACHEVOL_BACKEND: 'btrfs', CACHEVOL_ROOT: '/var/cv', CACHEVOL_LEASE_MS: '1500' }),
    ).toEqual({
      backend: 'btrfs',
      root: '/var/cv',
      store: 'sqlite',
      leaseMs: 1500,
      peers: [],
    });
    expect(
      globals(
        { backend: 'dir', root: 'r', lease: '2m', store: 'postgres://ci@/cachevol?host=/run/pg' },
        { CACHEVOL_BACKEND: 'btrfs', CACHEVOL_STORE: 'sqlite' },
      ),
    ).toEqual({
      backend: 'dir',
      root: '/here/r',
      store: 'postgres://ci@/cachevol?host=/run/pg',
      leaseMs: 120_000,
      peers: [],
    });
  });

  it('reads the fleet: peers from the flag or the variable, the token from the variable or its file', () => {
    const fleet = globals(
      { host: 'b', peer: 'a=http://10.0.0.1:7077, c=http://[fd00::3]:7077', 'transfer-budget': '5s' },
      { CACHEVOL_TOKEN: 'secret-token-0123456789' },
    );
    expect(fleet).toMatchObject({
      host: 'b',
      peers: [
        { host: 'a', url: 'http://10.0.0.1:7077' },
        { host: 'c', url: 'http://[fd00::3]:7077' },
      ],
      token: 'secret-token-0123456789',
      transferBudgetMs: 5000,
    });
    expect(
      globals({}, { CACHEVOL_PEERS: 'a=http://10.0.0.1:7077', CACHEVOL_TOKEN: 't'.repeat(16) }).peers,
    ).toEqual([{ host: 'a', url: 'http://10.0.0.1:7077' }]);
  });

  it('names the flag or variable that is wrong', () => {
    expect(() => globals({ backend: 'nfs' })).toThrow(
      '--backend: expected one of dir, btrfs, zfs, sparsebundle, got "nfs"',
    );
    expect(() => globals({}, { CACHEVOL_BACKEND: 'nfs' })).toThrow(/^CACHEVOL_BACKEND: expected one of/);
    expect(() => globals({ lease: 'soon' })).toThrow('--lease: invalid value "soon"');
    expect(() => globals({}, { CACHEVOL_LEASE_MS: '2h' })).toThrow(
      'CACHEVOL_LEASE_MS: invalid value "2h"; write a time of at least 1s with its unit: 30s, 10m, 2h (the variable: milliseconds',
    );
    expect(() => globals({ lease: '5' })).toThrow('--lease: invalid value "5"; write a time of at least 1s');
    expect(() => globals({ lease: '500ms' })).toThrow('--lease: invalid value "500ms"');
    expect(() => globals({}, { CACHEVOL_LEASE_MS: '5' })).toThrow('CACHEVOL_LEASE_MS: invalid value "5"');
    expect(() => globals({ retention: '14' })).toThrow('--retention: invalid value "14"; write a time');
    expect(() => globals({}, { CACHEVOL_MAX_TOTAL_SIZE: '100GB' })).toThrow(
      'CACHEVOL_MAX_TOTAL_SIZE: invalid value "100GB"; write whole gigabytes: 100g',
    );
    expect(() => globals({ 'versions-per-volume': '0' })).toThrow('--versions-per-volume: invalid value "0"');
    expect(() => globals({ backend: 'zfs' })).toThrow('--backend zfs needs --dataset');
    expect(() => globals({}, { CACHEVOL_STORE: 'mysql://x' })).toThrow(
      /^CACHEVOL_STORE: expected sqlite or a postgres:\/\/ connection string/,
    );
  });

  it('reads the retention limits from flags or the environment', () => {
    expect(
      globals(
        { retention: '36h', 'versions-per-volume': '5' },
        { CACHEVOL_MAX_TOTAL_SIZE: '200g', CACHEVOL_RETENTION: '1d' },
      ),
    ).toMatchObject({ retentionMs: 36 * 3_600_000, maxVersionsPerVolume: 5, maxTotalBytes: 200 * 2 ** 30 });
  });

  it('puts the default root in a cache directory, never in the working directory', () => {
    expect(defaultRoot({ HOME: '/home/me' }, 'linux', 0)).toBe('/var/cache/cachevol');
    expect(defaultRoot({ HOME: '/home/me' }, 'linux', 1000)).toBe('/home/me/.cache/cachevol');
    expect(defaultRoot({ HOME: '/home/me', XDG_CACHE_HOME: '/xdg' }, 'linux', 1000)).toBe('/xdg/cachevol');
    // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
    expect(defaultRoot({ HOME: '/home/me', XDG_CACHE_HOME: 'rel' }, 'linux', 1000)).toBe(
      '/home/me/.cache/cachevol',
    );
    expect(defaultRoot({ HOME: '/Users/me' }, 'darwin', 501)).toBe('/Users/me/Library/Caches/cachevol');
    expect(defaultRoot({}, 'darwin', 0)).toBe('/Library/Caches/cachevol');
  });

  it('parses durations', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('30s'),
      parseDuration('10m'),
      parseDuration('2h'),
      parseDuration('14d'),
    ]).toEqual([500, 30_000, 600_000, 7_200_000, 14 * 86_400_000]);
    expect(parseDuration('1.5h')).toBeNaN();
    // A bare number has no unit: `--lease 5` once meant 5 ms.
    expect(parseDuration('7')).toBeNaN();
  });
});
