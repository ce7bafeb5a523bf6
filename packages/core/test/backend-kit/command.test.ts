import { describe, expect, it } from 'vitest';
import {
  classifyStderr,
  commandFailure,
  errnoFromStderr,
  runCommand,
  spawnCommand,
} from '../../src/backend-kit/index.js';
import { CommandFailedError, isCacheVolumeError } from '../../src/index.js';

/** Runs this Node.js with a script: a real program, started without a shell. */
const node = (script: string, ...args: string[]) => [process.execPath, ['-e', script, ...args]] as const;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('spawnCommand', () => {
  it('passes arguments as they are, never through a shell', async () => {
    const hostile = ['$(echo x)', 'a;b', '`id`', "it's", '*', 'a b'];
    const [cmd, args] = node('process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...hostile);
    const result = await spawnCommand(cmd, args);
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(JSON.parse(result.stdout)).toEqual(hostile);
  });

  it('runs in the C locale, with no standard input', async () => {
    const [cmd, args] = node(
      'process.stdout.write(process.env.LC_ALL + " " + process.env.KIT_EXTRA); process.stdin.on("data", () => process.exit(3)); process.stdin.on("end", () => process.exit(0))',
    );
    const result = await spawnCommand(cmd, args, { env: { KIT_EXTRA: 'yes' } });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'C yes' });
  });

  it('resolves with the exit code and trimmed stderr of a failing program', async () => {
    const [cmd, args] = node('process.stderr.write("  broken\\n"); process.exit(4)');
    expect(await spawnCommand(cmd, args)).toEqual({
      exitCode: 4,
      stdout: '',
      stderr: 'broken',
      timedOut: false,
    });
  });

  it('makes a missing program BACKEND_UNAVAILABLE with the install hint', async () => {
    const error = await failure(
      spawnCommand('cachevol-kit-no-such-tool', ['x'], {
        installHint: 'install kit-tools (`apt-get install kit-tools`)',
      }),
    );
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe(
      '`cachevol-kit-no-such-tool` was not found: install kit-tools (`apt-get install kit-tools`).',
    );
  });

  it('kills a program that runs past its timeout, and says so', async () => {
    const [cmd, args] = node('setTimeout(() => {}, 60000)');
    const result = await spawnCommand(cmd, args, { timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(result.stderr).toMatch(/^timed out after 200 ms/);
  });

  it('kills a program when the signal aborts', async () => {
    const [cmd, args] = node('setTimeout(() => {}, 60000)');
    const controller = new AbortController();
    const running = spawnCommand(cmd, args, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect((await running).exitCode).toBeNull();
  });
});

describe('runCommand', () => {
  it('returns standard output as written', async () => {
    const [cmd, args] = node('process.stdout.write("a\\nb\\n")');
    expect(await runCommand(cmd, args)).toBe('a\nb\n');
  });

  it('throws a CommandFailedError classified by the first matching rule, with its hint', async () => {
    const [cmd, args] = node('process.stderr.write("dataset does not exist"); process.exit(1)');
    const error = await failure(
      runCommand(cmd, args, {
        failures: [
          { pattern: /busy/, code: 'CONFLICT' },
          { pattern: /does not exist/, code: 'NOT_FOUND', hint: 'Create it first.' },
          { pattern: /dataset/, code: 'INTERNAL' },
        ],
      }),
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    const failed = error as CommandFailedError;
    expect(failed.code).toBe('NOT_FOUND');
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toBe('dataset does not exist');
    expect(failed.args).toEqual(args);
    expect(failed.message).toMatch(/: dataset does not exist Create it first\.$/);
  });

  it('reports an unclassified failure as BACKEND_FAILED with the errno its stderr names', async () => {
    const [cmd, args] = node(
      'process.stderr.write("cp: cannot create x: No space left on device"); process.exit(1)',
    );
    const error = (await failure(runCommand(cmd, args))) as CommandFailedError;
    expect(error.code).toBe('BACKEND_FAILED');
    expect(error.details.errno).toBe('ENOSPC');
  });
});

describe('stderr classification', () => {
  it('maps system error texts (as cp and others print them, C locale) to errno names, first match first', () => {
    expect(errnoFromStderr("cp: error writing '/r/tmp/x/big': No space left on device")).toBe('ENOSPC');
    expect(errnoFromStderr("cp: cannot create regular file 'x': Disk quota exceeded")).toBe('EDQUOT');
    expect(errnoFromStderr("cp: cannot create directory 'x': Read-only file system")).toBe('EROFS');
    expect(errnoFromStderr("cp: cannot open 'x' for reading: Permission denied")).toBe('EACCES');
    expect(errnoFromStderr("chown: changing ownership of 'x': Operation not permitted")).toBe('EPERM');
    expect(
      errnoFromStderr("umount: /mnt: target is busy; rm: cannot remove 'x': Device or resource busy"),
    ).toBe('EBUSY');
    expect(errnoFromStderr("cp: cannot stat '/r/versions/v1': No such file or directory")).toBe('ENOENT');
    expect(errnoFromStderr('No such file or directory; No space left on device')).toBe('ENOSPC');
    expect(errnoFromStderr('something else')).toBeUndefined();
  });

  it('finds no rule for an unmatched stderr', () => {
    expect(classifyStderr('fine', [{ pattern: /bad/, code: 'INTERNAL' }])).toBeUndefined();
    expect(commandFailure('x', [], { exitCode: null, stderr: '' }).message).toBe('`x` did not exit normally');
  });
});
