import { createMemoryBackend } from '@cachevol/backend-memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheVolumes, createMemoryStore, headOf } from '../../src/index.js';
import {
  assertStateInvariants,
  crashable,
  propertyParameters,
  readAllSlices,
  SimulatedCrash,
} from '../../src/testing/index.js';

/**
 * "A repaired commit never supersedes a newer one": jobs on one volume commit normally, or die
 * in the middle of their commit (after the intent, or after the backend step) and are repaired
 * later by reconcile. A commit that recovery completes becomes head only if no other commit of
 * the volume completed after it began.
 */

type Op =
  | { kind: 'finish'; fork: number }
  | { kind: 'crash'; fork: number; steps: 0 | 1 | 2 }
  | { kind: 'reconcile' };

const arbOps = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('finish' as const), fork: fc.nat(5) }),
    fc.record({
      kind: fc.constant('crash' as const),
      fork: fc.nat(5),
      steps: fc.constantFrom(0 as const, 1 as const, 2 as const),
    }),
    fc.record({ kind: fc.constant('reconcile' as const) }),
  ),
  { minLength: 1, maxLength: 12 },
);

async function run(ops: Op[]) {
  const backend = createMemoryBackend();
  const store = createMemoryStore();
  let ids = 0;
  const newId = (kind: 'fork' | 'version') => `${kind[0]}-${++ids}`;
  const clock = () => 1_700_000_000_000;
  const engine = new CacheVolumes({ backend, store, host: 'h', clock, newId });
  const forks = await Promise.all(Array.from({ length: 6 }, () => engine.attach('deps')));
  for (const [i, fork] of forks.entries()) backend.files(fork).write('who', `job-${i}`);

  // The reference: every completion gets a rank; the head is the highest. A normal completion
  // ranks above everything before it. A repaired one ranks the same way when nothing completed
  // since it began; otherwise right after the last commit that had completed when it began.
  let completed = 0;
  let head: { who: string; rank: number[] } | null = null;
  const pending = new Map<string, { who: string; began: number }>();
  const ended = new Set<number>();
  const above = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = (a[i] ?? -1) - (b[i] ?? -1);
      if (d !== 0) return d > 0;
    }
    return false;
  };
  const complete = (who: string, began: number | null) => {
    const seq = ++completed;
    const rank = began === null || began === seq - 1 ? [seq, 0] : [began, 1, seq];
    if (!head || above(rank, head.rank)) head = { who, rank };
  };
  const repaired = (ids: readonly string[]) => {
    for (const id of ids) {
      const p = pending.get(id);
      if (!p) continue;
      complete(p.who, p.began);
      pending.delete(id);
    }
  };

  for (const op of ops) {
    if (op.kind === 'reconcile') {
      // Repairs happen in the order reconcile meets them; all of them began before any repair.
      const report = await engine.reconcile({ force: true });
      expect(report.errors).toEqual([]);
      expect([...report.committed].sort()).toEqual([...pending.keys()].sort());
      repaired(report.committed);
      continue;
    }
    if (ended.has(op.fork)) continue;
    ended.add(op.fork);
    const fork = forks[op.fork] as (typeof forks)[number];
    const who = `job-${op.fork}`;
    if (op.kind === 'finish') {
      await engine.finish(fork.id, 0);
      complete(who, null);
      continue;
    }
    const dying = crashable(backend, store, op.steps);
    const doomed = new CacheVolumes({ backend: dying.backend, store: dying.store, host: 'h', clock, newId });
    await doomed.finish(fork.id, 0).catch((error: unknown) => {
      if (!(error instanceof SimulatedCrash)) throw error;
    });
    if ((await store.findFork(fork.id))?.state === 'committed') {
      complete(who, null);
    } else {
      pending.set(fork.id, { who, began: completed });
    }
  }
  repaired((await engine.reconcile({ force: true })).committed);
  expect([...pending.keys()]).toEqual([]);

  const slices = await readAllSlices(store);
  assertStateInvariants(slices);
  const volume = slices[0]?.volume ?? undefined;
  const next = await engine.attach('deps');
  const expected = head as { who: string } | null;
  if (expected === null) {
    expect(next.result).toBe('miss');
  } else {
    expect(next.result).toBe('hit');
    expect(backend.files(next).readText('who')).toBe(expected.who);
    expect(headOf(volume)?.id).toBe(next.baseVersionId);
  }
}

describe('a commit completed by recovery', () => {
  it('becomes head only if no commit of its volume finished after it began, and never outranks one that did', async () => {
    await fc.assert(fc.asyncProperty(arbOps, run), propertyParameters(200));
  });

  it('is placed below the commit that finished while it was pending', async () => {
    await run([{ kind: 'crash', fork: 0, steps: 1 }, { kind: 'finish', fork: 1 }, { kind: 'reconcile' }]);
  });
});
