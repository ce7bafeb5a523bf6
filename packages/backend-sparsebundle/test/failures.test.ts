import { CommandFailedError, isCacheVolumeError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { createProcessRunner } from '../src/command-runner.js';
import type { Command } from '../src/internal/argv.js';
import { commandFailed, failureKind, spawnFailed } from '../src/internal/failures.js';

const detach: Command = { command: 'hdiutil', args: ['detach', '/dev/disk4'] };

// Messages as hdiutil prints them (collected from real runs reported in public issue trackers).
const REAL = {
  busyUnmount: { exitCode: 16, stdout: '', stderr: 'hdiutil: couldn\'t unmount "disk2" - Resource busy\n' },
  busyEject: {
    exitCode: 16,
    stdout: '"disk17" unmounted.\n',
    stderr: 'hdiutil: couldn\'t eject "disk17" - Resource busy\n',
  },
  attachBusy: { exitCode: 1, stdout: '', stderr: 'hdiutil: attach failed - Resource busy\n' },
  detachGone: { exitCode: 1, stdout: '', stderr: 'hdiutil: detach failed - No such file or directory\n' },
  attachGone: { exitCode: 1, stdout: '', stderr: 'hdiutil: attach failed - No such file or directory\n' },
  createFull: { exitCode: 1, stdout: '', stderr: 'hdiutil: create failed - No space left on device\n' },
  resizeFull: { exitCode: 1, stdout: '', stderr: 'hdiutil: resize: failed. No space left on device (28)\n' },
  timedOut: { exitCode: 1, stdout: '', stderr: 'hdiutil: create failed - Operation timed out\n' },
  badImage: { exitCode: 1, stdout: '', stderr: 'hdiutil: attach failed - image not recognized\n' },
};

describe('classifying hdiutil failures', () => {
  it('reads exit 16 and "Resource busy" as busy (retry)', () => {
    expect(failureKind(REAL.busyUnmount)).toBe('busy');
    expect(failureKind(REAL.busyEject)).toBe('busy');
    expect(failureKind(REAL.attachBusy)).toBe('busy');
    expect(failureKind({ exitCode: 16, stdout: '', stderr: '' })).toBe('busy');
  });

  it('reads "No such file or directory" as a missing image or disk', () => {
    expect(failureKind(REAL.detachGone)).toBe('missing');
    expect(failureKind(REAL.attachGone)).toBe('missing');
  });

  it('reads "No space left on device" as no space', () => {
    expect(failureKind(REAL.createFull)).toBe('no-space');
    expect(failureKind(REAL.resizeFull)).toBe('no-space');
  });

  it('leaves anything else unclassified', () => {
    expect(failureKind(REAL.timedOut)).toBe('other');
    expect(failureKind(REAL.badImage)).toBe('other');
  });
});

describe('errors for failed commands', () => {
  it('maps busy to CONFLICT, keeping command, args, exit code and stderr', () => {
    const error = commandFailed(detach, REAL.busyUnmount);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error.code).toBe('CONFLICT');
    expect(error.command).toBe('hdiutil');
    expect(error.args).toEqual(['detach', '/dev/disk4']);
    expect(error.exitCode).toBe(16);
    expect(error.stderr).toBe('hdiutil: couldn\'t unmount "disk2" - Resource busy');
    expect(error.message).toBe(
      '`hdiutil detach /dev/disk4` exited with 16: hdiutil: couldn\'t unmount "disk2" - Resource busy',
    );
  });

  it('maps no such image to NOT_FOUND and no space to CAPACITY_EXCEEDED', () => {
    expect(commandFailed({ command: 'hdiutil', args: ['attach'] }, REAL.attachGone).code).toBe('NOT_FOUND');
    expect(commandFailed({ command: 'hdiutil', args: ['create'] }, REAL.createFull).code).toBe(
      'CAPACITY_EXCEEDED',
    );
    expect(commandFailed({ command: 'hdiutil', args: ['create'] }, REAL.timedOut).code).toBe(
      'BACKEND_FAILED',
    );
  });

  it('says a missing program needs macOS (BACKEND_UNAVAILABLE), other spawn errors are BACKEND_FAILED', () => {
    const missing = spawnFailed(
      detach,
      Object.assign(new Error('spawn /usr/bin/hdiutil ENOENT'), { code: 'ENOENT' }),
    );
    expect(isCacheVolumeError(missing, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(missing.message).toMatch(/needs macOS/);
    expect(missing.message).toMatch(/\/usr\/bin\/hdiutil/);
    const other = spawnFailed(detach, new Error('EMFILE'));
    expect(other).toBeInstanceOf(CommandFailedError);
    expect((other as CommandFailedError).exitCode).toBeNull();
  });
});

describe('the default runner', () => {
  it('resolves with the exit code, stdout and stderr of a program that ran', async () => {
    const run = createProcessRunner({ timeoutMs: 60_000 });
    const result = await run(process.execPath, [
      '-e',
      'process.stdout.write(process.env.LANG); process.stderr.write("Resource busy"); process.exit(16)',
    ]);
    expect(result).toEqual({ exitCode: 16, stdout: 'C', stderr: 'Resource busy' });
  });

  it('rejects for a missing program, which the backend reports as BACKEND_UNAVAILABLE', async () => {
    const error = await createProcessRunner()('cachevol-kit-no-hdiutil', ['info']).catch((e: unknown) => e);
    const reported = spawnFailed(
      { command: 'cachevol-kit-no-hdiutil', args: ['info'] } as unknown as Command,
      error,
    );
    expect(reported.code).toBe('BACKEND_UNAVAILABLE');
    expect(reported.message).toMatch(/could not run `cachevol-kit-no-hdiutil` \(ENOENT\): it needs macOS/);
  });
});
