import { CacheVolumeError, CommandFailedError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, main } from '../src/index.js';
import { formatError, oneLine, painter, progressLine, useColor } from '../src/internal/output.js';
import { UsageError } from '../src/internal/usage-error.js';

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, write: (t: string) => chunks.push(t), text: () => chunks.join('') };
}

describe('colour', () => {
  it('is used only on a terminal, and never when NO_COLOR is set', () => {
    expect(useColor(sink(true), {})).toBe(true);
    expect(useColor(sink(true), { NO_COLOR: '1' })).toBe(false);
    expect(useColor(sink(true), { NO_COLOR: '' })).toBe(true);
    expect(useColor(sink(false), {})).toBe(false);
    expect(painter(true)('green', 'hit')).toBe('\u001b[32mhit\u001b[39m');
    expect(painter(false)('green', 'hit')).toBe('hit');
  });
});

describe('errors', () => {
  it('are one line with the code', () => {
    const failed = new CommandFailedError({
      command: 'zfs',
      args: ['destroy', 'p/x'],
      exitCode: 1,
      stderr: 'busy\nreally busy',
    });
    expect(formatError(failed).line).toBe(
      'cachevol: BACKEND_FAILED: `zfs destroy p/x` exited with 1: busy; really busy',
    );
    expect(formatError(new CacheVolumeError('NOT_FOUND', 'No volume "x".')).json).toEqual({
      error: { code: 'NOT_FOUND', message: 'No volume "x".', details: {} },
    });
    expect(formatError(new UsageError('missing NAME', 'attach')).line).toBe(
      'cachevol: missing NAME (see `cachevol attach --help`)',
    );
    expect(oneLine('3 problems:\n- a: x\n- b: y')).toBe('3 problems: a: x; b: y');
  });
});

describe('progress', () => {
  it('draws one self-overwriting line on a terminal only', () => {
    const tty = sink(true);
    const line = progressLine({ stdout: sink(), stderr: tty, env: {}, cwd: '/' });
    line.update(2 ** 20, 4 * 2 ** 20);
    line.clear();
    expect(tty.text()).toBe('\r\u001b[2Kcachevol: copying 1.0 MiB / 4.0 MiB (25%)\r\u001b[2K');
  });

  it('prints a plain line every ten seconds in a log (CI), and nothing for a short copy', () => {
    const clock = { now: 0 };
    const log = sink(false);
    const line = progressLine({ stdout: sink(), stderr: log, env: {}, cwd: '/' }, () => clock.now);
    for (const [at, done] of [
      [0, 0],
      [4_000, 1],
      [10_000, 2],
      [15_000, 3],
      [20_500, 4],
    ]) {
      clock.now = at as number;
      line.update((done as number) * 2 ** 20, 8 * 2 ** 20);
    }
    line.clear();
    expect(log.text()).toBe(
      'cachevol: copying 2.0 MiB / 8.0 MiB (25%)\ncachevol: copying 4.0 MiB / 8.0 MiB (50%)\n',
    );
    const short = sink(false);
    const quick = progressLine({ stdout: sink(), stderr: short, env: {}, cwd: '/' }, () => clock.now);
    quick.update(1, null);
    clock.now += 9_000;
    quick.update(2, null);
    quick.clear();
    expect(short.text()).toBe('');
  });
});

describe('main (in process)', () => {
  it('prints the version and help with exit 0, and usage errors with exit 2', async () => {
    const out = sink();
    const err = sink();
    expect(await main(['--version'], { stdout: out, stderr: err })).toBe(EXIT_CODES.OK);
    expect(out.text()).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await main(['gc', '--help'], { stdout: out, stderr: err })).toBe(0);
    expect(out.text()).toContain('Usage: cachevol gc [options]');
    expect(await main(['nope', '--json'], { stdout: out, stderr: err })).toBe(EXIT_CODES.USAGE);
    expect(JSON.parse(err.text())).toEqual({ error: { code: 'USAGE', message: "unknown command 'nope'" } });
  });
});
