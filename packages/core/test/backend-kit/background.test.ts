import { describe, expect, it } from 'vitest';
import { BackgroundWork, once } from '../../src/backend-kit/index.js';

/** A promise with its resolve and reject. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('once', () => {
  it('runs the step once for callers that overlap or come later', async () => {
    let runs = 0;
    const get = once(async () => ++runs);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    expect(await get()).toBe(1);
    expect(runs).toBe(1);
  });

  it('does not keep a failure, and reset() runs the step again', async () => {
    let runs = 0;
    const get = once(async () => {
      runs += 1;
      if (runs === 1) throw new Error('first fails');
      return runs;
    });
    await expect(get()).rejects.toThrow('first fails');
    expect(await get()).toBe(2);
    get.reset();
    expect(await get()).toBe(3);
  });
});

describe('BackgroundWork', () => {
  it('makes callers on a key wait for the work on it, and only on it', async () => {
    const work = new BackgroundWork();
    const gate = deferred();
    const events: string[] = [];
    work.start(['a', 'b'], () => gate.promise).then(() => events.push('work'));
    const waitA = work.on('a').then(() => events.push('a'));
    await work.on('c');
    events.push('c');
    gate.resolve();
    await waitA;
    expect(events).toEqual(['c', 'work', 'a']);
  });

  it('returns the failure to the starter, and waiters never reject', async () => {
    const work = new BackgroundWork();
    const started = work.start(['k'], async () => {
      throw new Error('boom');
    });
    await expect(work.on('k')).resolves.toBeUndefined();
    await expect(started).rejects.toThrow('boom');
    await expect(work.idle()).resolves.toBeUndefined();
  });

  it('keeps a later start on the same key when the earlier one settles', async () => {
    const work = new BackgroundWork();
    const first = deferred();
    const second = deferred();
    work.start(['k'], () => first.promise);
    work.start(['k'], () => second.promise);
    first.resolve();
    await first.promise;
    let waited = false;
    const waiting = work.on('k').then(() => {
      waited = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(waited).toBe(false);
    second.resolve();
    await waiting;
    expect(waited).toBe(true);
  });

  it('idle() waits for work started while it waits', async () => {
    const work = new BackgroundWork();
    const done: string[] = [];
    work.start(['x'], async () => {
      await new Promise((resolve) => setImmediate(resolve));
      work.start(['y'], async () => {
        await new Promise((resolve) => setImmediate(resolve));
        done.push('y');
      });
      done.push('x');
    });
    await work.idle();
    expect(done).toEqual(['x', 'y']);
  });
});
