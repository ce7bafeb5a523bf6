import { constants } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../contracts/backend.js';
import { isCacheVolumeError } from '../errors.js';
import { type FileAccess, nodeFileAccess } from './file-access.js';
import { describeTransferTests } from './transfer-conformance.js';

/** What a backend-specific test gets from {@link describeBackendConformance}. */
export interface ConformanceContext<B extends Backend = Backend> {
  /** The fresh backend of the current test, with its own type (no cast needed). */
  backend(): B;
  /** File access inside forks. */
  files: FileAccess;
}

/** A fresh backend for one test, and how to tear it down. */
export interface BackendUnderTest<B extends Backend = Backend> {
  /** The backend, empty. */
  backend: B;
  /** Removes what the backend made (its root, dataset, image); runs after the test. */
  cleanup?: () => void | Promise<void>;
}

/** Options for {@link describeBackendConformance}. */
export interface ConformanceOptions<B extends Backend = Backend> {
  /** A fresh, empty backend for each test (its own root, dataset or memory) and its cleanup. */
  create: () => BackendUnderTest<B> | Promise<BackendUnderTest<B>>;
  /**
   * Capability tests to leave out (for example `['quota']` on a filesystem that cannot hold a
   * capacity test). Otherwise each capability test checks that the backend's flag is honest
   * both ways: a declared capability works, an undeclared one is not claimed.
   */
  skip?: readonly ('quota' | 'changeDetection')[];
  /**
   * How to read and write files inside forks.
   * @defaultValue {@link nodeFileAccess}
   */
  files?: FileAccess;
  /**
   * Capacity given to forks in the capacity test, in bytes.
   * @defaultValue 32 MiB
   */
  capacityBytes?: number;
  /**
   * A second backend of the same kind, empty, standing for another host (its own root, pool or
   * filesystem), for the transfer tests. Required when the backend declares `transfer`.
   */
  peer?: () => BackendUnderTest<B> | Promise<BackendUnderTest<B>>;
  /** Backend-specific tests, declared inside the suite's `describe`. */
  extra?: (context: ConformanceContext<B>) => void;
  /** Per-test timeout in ms. */
  timeout?: number;
}

/** Ids that every backend method must refuse with `INVALID_ARGUMENT` without touching anything. */
export const HOSTILE_IDS: readonly string[] = [
  '',
  '.',
  '..',
  '../escape',
  'a/b',
  '/abs',
  'a b',
  'a@b',
  'a;rm -rf x',
  'a\u0000b',
  'UPPER',
  '$(x)',
  '-flag',
];

const MIB = 1 << 20;

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} error`).toBeDefined();
  expect(isCacheVolumeError(error) ? error.code : error).toBe(code);
}

/**
 * ENOSPC or EDQUOT by name, or by number: Node 20's libuv has no name for EDQUOT on Linux and
 * reports it as "Unknown system error -122".
 */
function isCapacityError(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return (
    isCacheVolumeError(error, 'CAPACITY_EXCEEDED') ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    errno === -constants.errno.ENOSPC ||
    errno === -constants.errno.EDQUOT
  );
}

/**
 * The one conformance suite every backend runs: fork, commit, discard and remove semantics,
 * isolation, idempotency, hostile ids, listing, and the capability tests (quota, change
 * detection, transfer to a `peer`) its capabilities switch on. Call it at the top level of a vitest file:
 *
 * @example
 * ```ts
 * describeBackendConformance('dir', {
 *   create: () => {
 *     const root = mkdtempSync(join(tmpdir(), 'dir-'))
 *     return { backend: createDirBackend({ root }), cleanup: () => rmSync(root, { recursive: true }) }
 *   },
 * })
 * ```
 *
 * @param name - the backend's name, for the suite title
 * @param options - factory (a backend and its cleanup), file access, capability switches and
 *   extra tests
 */
export function describeBackendConformance<B extends Backend>(
  name: string,
  options: ConformanceOptions<B>,
): void {
  const files = options.files ?? nodeFileAccess;
  const capacityBytes = options.capacityBytes ?? 32 * MIB;
  const fork = { capacityBytes };
  const skipped = new Set(options.skip ?? []);

  describe(`Backend conformance: ${name}`, { timeout: options.timeout ?? 60_000 }, () => {
    let underTest: BackendUnderTest<B> | undefined;
    const current = (): B => {
      if (!underTest) throw new Error('no backend: the suite factory has not run');
      return underTest.backend;
    };
    const listed = async () => (await current().list()).map((e) => `${e.kind}:${e.id}`).sort();

    beforeEach(async () => {
      underTest = await options.create();
    });
    afterEach(async () => {
      const cleanup = underTest?.cleanup;
      underTest = undefined;
      await cleanup?.();
    });

    it('starts empty and declares its name and capabilities', async () => {
      expect(typeof current().name).toBe('string');
      for (const flag of ['copyOnWrite', 'constantTime', 'quota', 'transfer', 'changeDetection'] as const) {
        expect(typeof current().capabilities[flag]).toBe('boolean');
      }
      expect(await current().list()).toEqual([]);
    });

    it('creates an empty writable fork, idempotently', async () => {
      const a = await current().createFork('f1', fork);
      expect(await files.list(a.mountPath)).toEqual([]);
      await files.write(a.mountPath, 'dir/a.txt', 'one');
      const again = await current().createFork('f1', fork);
      expect(again.mountPath).toBe(a.mountPath);
      expect(await files.read(again.mountPath, 'dir/a.txt')).toBe('one');
      expect(await listed()).toEqual(['fork:f1']);
    });

    it('commits a fork into a version and forks it with the same contents', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'a.txt', 'alpha');
      await files.write(a.mountPath, 'deep/nested/b.txt', 'beta');
      const usage = await current().commitFork('f1', 'v1');
      expect(Number.isInteger(usage.usedBytes) && usage.usedBytes >= 0).toBe(true);
      expect(await listed()).toEqual(['version:v1']);
      const b = await current().forkVersion('f2', 'v1', fork);
      expect(await files.list(b.mountPath)).toEqual(['a.txt', 'deep/nested/b.txt']);
      expect(await files.read(b.mountPath, 'deep/nested/b.txt')).toBe('beta');
    });

    it('commits an empty fork into an empty version', async () => {
      await current().createFork('f1', fork);
      await current().commitFork('f1', 'v1');
      const b = await current().forkVersion('f2', 'v1', fork);
      expect(await files.list(b.mountPath)).toEqual([]);
    });

    it('isolates forks from each other and from their version', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'shared.txt', 'base');
      await current().commitFork('f1', 'v1');
      const x = await current().forkVersion('fx', 'v1', fork);
      const y = await current().forkVersion('fy', 'v1', fork);
      await files.write(x.mountPath, 'shared.txt', 'changed by x');
      await files.write(x.mountPath, 'only-x.txt', 'x');
      await files.remove(y.mountPath, 'shared.txt');
      expect(await files.read(y.mountPath, 'only-x.txt')).toBeUndefined();
      expect(await files.read(x.mountPath, 'shared.txt')).toBe('changed by x');
      const z = await current().forkVersion('fz', 'v1', fork);
      expect(await files.list(z.mountPath)).toEqual(['shared.txt']);
      expect(await files.read(z.mountPath, 'shared.txt')).toBe('base');
    });

    it('makes a fork of a new version see exactly what was committed', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'keep.txt', 'k');
      await files.write(a.mountPath, 'drop.txt', 'd');
      await current().commitFork('f1', 'v1');
      const b = await current().forkVersion('f2', 'v1', fork);
      await files.remove(b.mountPath, 'drop.txt');
      await files.write(b.mountPath, 'keep.txt', 'k2');
      await files.write(b.mountPath, 'new.txt', 'n');
      await current().commitFork('f2', 'v2');
      const c = await current().forkVersion('f3', 'v2', fork);
      expect(await files.list(c.mountPath)).toEqual(['keep.txt', 'new.txt']);
      expect(await files.read(c.mountPath, 'keep.txt')).toBe('k2');
    });

    it('refuses to fork a missing version and creates nothing', async () => {
      await expectCode(current().forkVersion('f1', 'nope', fork), 'NOT_FOUND');
      expect(await current().list()).toEqual([]);
    });

    it('makes commit idempotent and reports NOT_FOUND when neither fork nor version exists', async () => {
      await current().createFork('f1', fork);
      await current().commitFork('f1', 'v1');
      const again = await current().commitFork('f1', 'v1');
      expect(again.usedBytes).toBeGreaterThanOrEqual(0);
      expect(await listed()).toEqual(['version:v1']);
      await expectCode(current().commitFork('ghost', 'v9'), 'NOT_FOUND');
    });

    it('refuses to commit into a version another fork made, and keeps both as they were', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'a.txt', 'from f1');
      await current().commitFork('f1', 'v1');
      const b = await current().createFork('f2', fork);
      await files.write(b.mountPath, 'a.txt', 'from f2');
      await expectCode(current().commitFork('f2', 'v1'), 'ALREADY_EXISTS');
      expect(await listed()).toEqual(['fork:f2', 'version:v1']);
      expect(await files.read(b.mountPath, 'a.txt')).toBe('from f2');
      const c = await current().forkVersion('f3', 'v1', fork);
      expect(await files.read(c.mountPath, 'a.txt')).toBe('from f1');
      await current().commitFork('f2', 'v2');
      const d = await current().forkVersion('f4', 'v2', fork);
      expect(await files.read(d.mountPath, 'a.txt')).toBe('from f2');
    });

    it('returns the existing mount when forkVersion is retried', async () => {
      await current().createFork('f1', fork);
      await current().commitFork('f1', 'v1');
      const a = await current().forkVersion('f2', 'v1', fork);
      await files.write(a.mountPath, 'x.txt', 'x');
      const b = await current().forkVersion('f2', 'v1', fork);
      expect(b.mountPath).toBe(a.mountPath);
      expect(await files.read(b.mountPath, 'x.txt')).toBe('x');
    });

    it('discards forks idempotently', async () => {
      await current().createFork('f1', fork);
      await current().discardFork('f1');
      await current().discardFork('f1');
      await current().discardFork('never-existed');
      expect(await current().list()).toEqual([]);
    });

    it('removes a version with live descendants, which keep their data', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'data.txt', 'v1 data');
      await current().commitFork('f1', 'v1');
      const child = await current().forkVersion('f2', 'v1', fork);
      const grandchild = await current().forkVersion('f3', 'v1', fork);
      await files.write(grandchild.mountPath, 'more.txt', 'v2 data');
      await current().commitFork('f3', 'v2');
      await current().removeVersion('v1');
      await current().removeVersion('v1');
      expect(await listed()).toEqual(['fork:f2', 'version:v2']);
      expect(await files.read(child.mountPath, 'data.txt')).toBe('v1 data');
      const again = await current().forkVersion('f4', 'v2', fork);
      expect(await files.list(again.mountPath)).toEqual(['data.txt', 'more.txt']);
      await expectCode(current().forkVersion('f5', 'v1', fork), 'NOT_FOUND');
    });

    it('leaves nothing behind once everything is removed', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'a', 'a');
      await current().commitFork('f1', 'v1');
      await current().forkVersion('f2', 'v1', fork);
      await current().createFork('f3', fork);
      await current().removeVersion('v1');
      await current().discardFork('f2');
      await current().discardFork('f3');
      expect(await current().list()).toEqual([]);
    });

    it('reports usage, and NOT_FOUND for missing ids', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'a.txt', 'x'.repeat(4096));
      const forkUsage = await current().usage('fork', 'f1');
      expect(Number.isInteger(forkUsage.usedBytes) && forkUsage.usedBytes >= 0).toBe(true);
      await current().commitFork('f1', 'v1');
      const versionUsage = await current().usage('version', 'v1');
      expect(versionUsage.usedBytes).toBeGreaterThanOrEqual(0);
      await expectCode(current().usage('fork', 'f1'), 'NOT_FOUND');
      await expectCode(current().usage('version', 'v404'), 'NOT_FOUND');
    });

    it('counts in usage the data a version holds, also in a fork that shares it', async () => {
      const bytes = 4 * MIB;
      const expectAbout = (usage: { usedBytes: number }, what: string) => {
        expect(Number.isInteger(usage.usedBytes), what).toBe(true);
        expect(
          usage.usedBytes,
          `${what}: ${usage.usedBytes} bytes for ${bytes} written`,
        ).toBeGreaterThanOrEqual(bytes * 0.9);
        expect(usage.usedBytes, `${what}: ${usage.usedBytes} bytes for ${bytes} written`).toBeLessThanOrEqual(
          bytes + 2 * MIB,
        );
      };
      const a = await current().createFork('f1', fork);
      await files.fill(a.mountPath, 'data.bin', bytes);
      const committed = await current().commitFork('f1', 'v1');
      if (committed.estimated === true) {
        expect(Number.isInteger(committed.usedBytes) && committed.usedBytes >= 0).toBe(true);
      } else {
        expect(committed.estimated, 'estimated is true or absent').toBeUndefined();
        expectAbout(committed, 'commitFork');
      }
      const measured = await current().usage('version', 'v1');
      expect(measured.estimated, 'usage() measures').toBeUndefined();
      expectAbout(measured, 'usage of the version');
      await current().forkVersion('f2', 'v1', fork);
      expectAbout(await current().usage('fork', 'f2'), 'usage of a fresh fork of it (shared data counts)');
    });

    it('gets ready idempotently, also for callers at once, and changes nothing it holds', async () => {
      await Promise.all([current().ready(), current().ready()]);
      await current().ready();
      expect(await current().list()).toEqual([]);
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'a.txt', 'a');
      await current().ready();
      expect(await listed()).toEqual(['fork:f1']);
      expect(await files.read(a.mountPath, 'a.txt')).toBe('a');
    });

    it('runs calls on different forks at once, each fork seeing only its own writes', async () => {
      const ids = ['c1', 'c2', 'c3', 'c4'];
      const made = await Promise.all(ids.map((id) => current().createFork(id, fork)));
      await Promise.all(made.map((m, i) => files.write(m.mountPath, 'own.txt', `from ${ids[i]}`)));
      await Promise.all(ids.map((id) => current().commitFork(id, `v-${id}`)));
      const again = await Promise.all(ids.map((id) => current().forkVersion(`g-${id}`, `v-${id}`, fork)));
      for (const [i, m] of again.entries()) {
        expect(await files.list(m.mountPath)).toEqual(['own.txt']);
        expect(await files.read(m.mountPath, 'own.txt')).toBe(`from ${ids[i]}`);
      }
      expect(await listed()).toEqual([
        ...ids.map((id) => `fork:g-${id}`),
        ...ids.map((id) => `version:v-${id}`),
      ]);
    });

    it('forks one version many times at once', async () => {
      const a = await current().createFork('f1', fork);
      await files.write(a.mountPath, 'base.txt', 'base');
      await current().commitFork('f1', 'v1');
      const ids = ['x1', 'x2', 'x3', 'x4'];
      const forks = await Promise.all(ids.map((id) => current().forkVersion(id, 'v1', fork)));
      await Promise.all(forks.map((m, i) => files.write(m.mountPath, 'own.txt', `${ids[i]}`)));
      for (const [i, m] of forks.entries()) {
        expect(await files.list(m.mountPath)).toEqual(['base.txt', 'own.txt']);
        expect(await files.read(m.mountPath, 'own.txt')).toBe(ids[i]);
      }
    });

    it('forks a version that is removed meanwhile whole, or not at all (NOT_FOUND, nothing left)', async () => {
      for (const round of [1, 2, 3]) {
        const a = await current().createFork(`s${round}`, fork);
        await files.write(a.mountPath, 'deep/data.txt', `round ${round}`);
        await current().commitFork(`s${round}`, `v${round}`);
        const [forked, removed] = await Promise.allSettled([
          current().forkVersion(`r${round}`, `v${round}`, fork),
          current().removeVersion(`v${round}`),
        ]);
        expect(removed.status, String(removed.status === 'rejected' && removed.reason)).toBe('fulfilled');
        const entries = await listed();
        expect(entries).not.toContain(`version:v${round}`);
        if (forked.status === 'fulfilled') {
          expect(await files.read(forked.value.mountPath, 'deep/data.txt')).toBe(`round ${round}`);
          expect(entries).toContain(`fork:r${round}`);
        } else {
          await expectCode(Promise.reject(forked.reason), 'NOT_FOUND');
          expect(entries).not.toContain(`fork:r${round}`);
        }
      }
    });

    it('refuses hostile ids with INVALID_ARGUMENT and touches nothing', async () => {
      await current().createFork('f1', fork);
      await current().commitFork('f1', 'v1');
      const before = await listed();
      for (const bad of HOSTILE_IDS) {
        await expectCode(current().createFork(bad, fork), 'INVALID_ARGUMENT');
        await expectCode(current().forkVersion(bad, 'v1', fork), 'INVALID_ARGUMENT');
        await expectCode(current().forkVersion('f2', bad, fork), 'INVALID_ARGUMENT');
        await expectCode(current().commitFork(bad, 'v2'), 'INVALID_ARGUMENT');
        await expectCode(current().commitFork('f2', bad), 'INVALID_ARGUMENT');
        await expectCode(current().discardFork(bad), 'INVALID_ARGUMENT');
        await expectCode(current().removeVersion(bad), 'INVALID_ARGUMENT');
        await expectCode(current().usage('version', bad), 'INVALID_ARGUMENT');
        await expectCode(current().usage('fork', bad), 'INVALID_ARGUMENT');
        if (current().hasChanges)
          await expectCode(current().hasChanges?.(bad) ?? Promise.resolve(), 'INVALID_ARGUMENT');
      }
      expect(await listed()).toEqual(before);
    });

    it('refuses a capacity that is not a positive whole number of bytes, and creates nothing', async () => {
      await current().createFork('f1', fork);
      await current().commitFork('f1', 'v1');
      const before = await listed();
      for (const capacity of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '20g', undefined]) {
        const bad = { capacityBytes: capacity as number };
        await expectCode(current().createFork('f2', bad), 'INVALID_ARGUMENT');
        await expectCode(current().forkVersion('f3', 'v1', bad), 'INVALID_ARGUMENT');
      }
      expect(await listed()).toEqual(before);
    });

    if (!skipped.has('quota')) {
      it('enforces capacity exactly when it declares quota, and the fork stays usable', async () => {
        const a = await current().createFork('f1', fork);
        const error = await files.fill(a.mountPath, 'big.bin', capacityBytes + 8 * MIB).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (current().capabilities.quota) {
          expect(
            isCapacityError(error),
            `writing past capacity should fail with ENOSPC/EDQUOT, got ${String(error)}`,
          ).toBe(true);
        } else {
          expect(error, 'a backend without quota must not refuse writes past capacity').toBeUndefined();
        }
        await files.remove(a.mountPath, 'big.bin');
        await files.write(a.mountPath, 'after.txt', 'still usable');
        expect(await files.read(a.mountPath, 'after.txt')).toBe('still usable');
      });
    }

    if (!skipped.has('changeDetection')) {
      it('detects changes exactly when it declares changeDetection', async () => {
        const detects = current().capabilities.changeDetection;
        expect(typeof current().hasChanges).toBe(detects ? 'function' : 'undefined');
        if (!detects) return;
        const a = await current().createFork('f1', fork);
        await files.write(a.mountPath, 'a.txt', 'a');
        await current().commitFork('f1', 'v1');
        const b = await current().forkVersion('f2', 'v1', fork);
        expect(await current().hasChanges?.('f2')).toBe(false);
        await files.write(b.mountPath, 'b.txt', 'b');
        expect(await current().hasChanges?.('f2')).toBe(true);
        const empty = await current().createFork('f3', fork);
        expect(await current().hasChanges?.('f3')).toBe(false);
        await files.write(empty.mountPath, 'c.txt', 'c');
        expect(await current().hasChanges?.('f3')).toBe(true);
      });
    }

    describeTransferTests({ current, peer: options.peer, files, fork });

    options.extra?.({ backend: current, files });
  });
}
