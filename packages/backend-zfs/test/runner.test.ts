import { CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  isZfsFailure,
  processRunner,
  retryingWhenBusy,
  type ZfsRunner,
} from '../src/internal/runner.js';

/** Runs `node -e <script>` through the runner, standing in for a `zfs` that fails a given way. */
const fakeZfs = processRunner(process.execPath);
const failWith = (stderr: string, code = 1) => [
  '-e',
  `process.stderr.write(${JSON.stringify(stderr)}); process.exit(${code})`,
];

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('classifying zfs failures (OpenZFS and zfs-fuse wording)', () => {
  it.each([
    ["cannot open 'tank/x': dataset does not exist", 'missing'],
    ["cannot create 'tank/forks/f': parent does not exist", 'no-parent'],
    ["cannot create 'tank/x': dataset already exists", 'exists'],
    ["cannot mount 'tank/x': filesystem already mounted", 'mounted'],
    ["cannot unmount 'tank/x': not currently mounted", 'not-mounted'],
    [
      "cannot destroy 'tank/v': filesystem has dependent clones\nuse '-R' to destroy the following datasets:",
      'has-clones',
    ],
    ["cannot rename 'tank/f': dataset is busy", 'busy'],
    ["cannot create 'tank/tmp/f': out of space", 'out-of-space'],
    ["cannot set property for 'tank/f': size is less than current used or reserved space", 'out-of-space'],
    [
      'connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library',
      'unavailable',
    ],
    [
      "The ZFS modules are not loaded.\nTry running '/sbin/modprobe zfs' as root to load them.",
      'unavailable',
    ],
    ["cannot create 'tank/x': permission denied", 'other'],
  ] as const)('%s -> %s', (stderr, failure) => {
    expect(classifyFailure(stderr)).toBe(failure);
  });
});

describe('the process runner', () => {
  it('returns stdout of a successful command', async () => {
    expect(await fakeZfs.run(['-e', 'process.stdout.write("tank\\tused\\t42\\n")'])).toBe('tank\tused\t42\n');
  });

  it('turns a failure into CommandFailedError with command, args, exit code and stderr', async () => {
    const args = failWith("cannot open 'tank/x': dataset does not exist", 2);
    const error = await caught(fakeZfs.run(args));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error).toMatchObject({
      code: 'BACKEND_FAILED',
      command: process.execPath,
      args,
      exitCode: 2,
      stderr: "cannot open 'tank/x': dataset does not exist",
    });
    expect(isZfsFailure(error, 'missing')).toBe(true);
  });

  it('says what to install when the zfs program is missing', async () => {
    const error = await caught(processRunner('/nonexistent/cachevol-kit/zfs').run(['list']));
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/zfsutils-linux.*zfs-fuse/);
  });

  it('says to start the daemon when ZFS is installed but not running', async () => {
    const error = await caught(
      fakeZfs.run(
        failWith(
          'Please make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library',
        ),
      ),
    );
    expect(isCacheVolumeError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/start the zfs-fuse daemon.*modprobe zfs/);
    // The failed command stays reproducible: its line, exit code and stderr are on the error.
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(isZfsFailure(error, 'unavailable')).toBe(true);
  });
});

describe('retrying busy datasets', () => {
  const busy = () =>
    new CommandFailedError({ command: 'zfs', args: ['rename'], exitCode: 1, stderr: 'dataset is busy' });

  it('retries while busy, then succeeds', async () => {
    let calls = 0;
    const flaky: ZfsRunner = {
      async run() {
        calls += 1;
        if (calls < 3) throw busy();
        return 'ok';
      },
    };
    expect(await retryingWhenBusy(flaky, [0, 0, 0]).run(['rename', 'a', 'b'])).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the last delay with the last error, and never retries other failures', async () => {
    let calls = 0;
    const alwaysBusy: ZfsRunner = {
      async run() {
        calls += 1;
        throw busy();
      },
    };
    expect(isZfsFailure(await caught(retryingWhenBusy(alwaysBusy, [0, 0]).run(['destroy'])), 'busy')).toBe(
      true,
    );
    expect(calls).toBe(3);
    calls = 0;
    const missing: ZfsRunner = {
      async run() {
        calls += 1;
        throw new CommandFailedError({
          command: 'zfs',
          args: [],
          exitCode: 1,
          stderr: 'dataset does not exist',
        });
      },
    };
    expect(isZfsFailure(await caught(retryingWhenBusy(missing, [0, 0]).run(['destroy'])), 'missing')).toBe(
      true,
    );
    expect(calls).toBe(1);
  });
});
