import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCapacity, defineBackend, isIdName } from '../../src/backend-kit/index.js';
import type { Backend, EntryKind, ForkOptions } from '../../src/index.js';
import { isCacheVolumeError, MAX_ID_LENGTH, validateId } from '../../src/index.js';
import { arbId, HOSTILE_IDS, propertyParameters } from '../../src/testing/index.js';

const params = propertyParameters(200);

/** A backend that records what reached it, so a test can tell that a refused call never did. */
function recorder() {
  const calls: string[] = [];
  const backend = defineBackend<Backend & { extra: string }>({
    name: 'recorder',
    capabilities: {
      copyOnWrite: false,
      constantTime: true,
      quota: false,
      transfer: false,
      changeDetection: true,
    },
    extra: 'kept',
    async createFork(forkId: string, options: ForkOptions) {
      calls.push(`createFork ${forkId} ${options.capacityBytes}`);
      return { mountPath: forkId };
    },
    async forkVersion(forkId: string, versionId: string, options: ForkOptions) {
      calls.push(`forkVersion ${forkId} ${versionId} ${options.capacityBytes}`);
      return { mountPath: forkId };
    },
    async commitFork(forkId: string, versionId: string) {
      calls.push(`commitFork ${forkId} ${versionId}`);
      return { usedBytes: 0 };
    },
    async discardFork(forkId: string) {
      calls.push(`discardFork ${forkId}`);
    },
    async removeVersion(versionId: string) {
      calls.push(`removeVersion ${versionId}`);
    },
    async usage(kind: EntryKind, id: string) {
      calls.push(`usage ${kind} ${id}`);
      return { usedBytes: 1 };
    },
    async list() {
      return [];
    },
    async hasChanges(forkId: string) {
      calls.push(`hasChanges ${forkId}`);
      return false;
    },
  });
  return { backend, calls };
}

/** Every method call that takes ids, with `bad` in one id position each. */
function callsWith(backend: Backend, bad: string, good: string): Promise<unknown>[] {
  const fork = { capacityBytes: 1 };
  return [
    backend.createFork(bad, fork),
    backend.forkVersion(bad, good, fork),
    backend.forkVersion(good, bad, fork),
    backend.commitFork(bad, good),
    backend.commitFork(good, bad),
    backend.discardFork(bad),
    backend.removeVersion(bad),
    backend.usage('fork', bad),
    backend.usage('version', bad),
    backend.hasChanges?.(bad) ?? Promise.resolve(),
  ];
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (error: unknown) => (isCacheVolumeError(error) ? error.code : String(error)),
  );
}

/** Strings that are not ids: anything, filtered by the rule, plus the hostile ones. */
const arbNotId = fc.oneof(
  fc.string({ maxLength: 80 }).filter((s) => !/^[a-z0-9][a-z0-9_-]*$/.test(s) || s.length > MAX_ID_LENGTH),
  fc.constantFrom(...HOSTILE_IDS),
  fc
    .string({ minLength: MAX_ID_LENGTH + 1, maxLength: 90, unit: fc.constantFrom('a', '0', '-') })
    .map((s) => `a${s}`),
);

describe('defineBackend', () => {
  it('refuses every id that is not one with INVALID_ARGUMENT, and the backend never sees it', async () => {
    await fc.assert(
      fc.asyncProperty(arbNotId, arbId, async (bad, good) => {
        const { backend, calls } = recorder();
        for (const call of callsWith(backend, bad, good)) expect(await codeOf(call)).toBe('INVALID_ARGUMENT');
        expect(calls).toEqual([]);
      }),
      params,
    );
  });

  it('passes every valid id through to the backend', async () => {
    await fc.assert(
      fc.asyncProperty(arbId, arbId, async (a, b) => {
        const { backend, calls } = recorder();
        await backend.createFork(a, { capacityBytes: 5 });
        await backend.forkVersion(a, b, { capacityBytes: 6 });
        await backend.commitFork(a, b);
        await backend.discardFork(a);
        await backend.removeVersion(b);
        await backend.usage('version', b);
        await backend.hasChanges?.(a);
        expect(calls).toEqual([
          `createFork ${a} 5`,
          `forkVersion ${a} ${b} 6`,
          `commitFork ${a} ${b}`,
          `discardFork ${a}`,
          `removeVersion ${b}`,
          `usage version ${b}`,
          `hasChanges ${a}`,
        ]);
      }),
      params,
    );
  });

  it('refuses a capacity that is not a positive safe integer, before the backend runs', async () => {
    const arbBadCapacity = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double().filter((n) => !Number.isSafeInteger(n) || n <= 0),
      fc.constantFrom(Number.MAX_SAFE_INTEGER + 1, Number.NaN, Number.POSITIVE_INFINITY),
      fc.constantFrom<unknown>('20', null, undefined, 10n, {}),
    );
    await fc.assert(
      fc.asyncProperty(arbBadCapacity, async (capacityBytes) => {
        const { backend, calls } = recorder();
        const options = { capacityBytes } as ForkOptions;
        expect(await codeOf(backend.createFork('f1', options))).toBe('INVALID_ARGUMENT');
        expect(await codeOf(backend.forkVersion('f1', 'v1', options))).toBe('INVALID_ARGUMENT');
        expect(calls).toEqual([]);
      }),
      params,
    );
    const { backend } = recorder();
    expect(await codeOf(backend.createFork('f1', undefined as unknown as ForkOptions))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('accepts exactly the positive safe integers as capacity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
        expect(checkCapacity({ capacityBytes: bytes })).toBe(bytes);
      }),
      params,
    );
  });

  it('refuses a kind that is neither fork nor version', async () => {
    const { backend, calls } = recorder();
    expect(await codeOf(backend.usage('volume' as EntryKind, 'v1'))).toBe('INVALID_ARGUMENT');
    expect(calls).toEqual([]);
  });

  it('gives a backend without ready() one that resolves, and calls the own ready of one that has it', async () => {
    const { backend, calls } = recorder();
    await expect(backend.ready()).resolves.toBeUndefined();
    expect(calls).toEqual([]);
    let readied = 0;
    const own = defineBackend<Backend>({
      ...recorder().backend,
      async ready() {
        readied++;
      },
    });
    await own.ready();
    expect(readied).toBe(1);
  });

  it('keeps the other members and leaves hasChanges out when the backend has none', async () => {
    const { backend } = recorder();
    expect(backend.name).toBe('recorder');
    expect(backend.extra).toBe('kept');
    const { hasChanges: _, ...without } = recorder().backend;
    expect(defineBackend<Backend>(without).hasChanges).toBeUndefined();
  });

  it('rejects instead of throwing synchronously', () => {
    const { backend } = recorder();
    expect(() => backend.createFork('../x', { capacityBytes: 1 }).catch(() => undefined)).not.toThrow();
  });
});

describe('isIdName', () => {
  it('agrees with validateId', () => {
    fc.assert(
      fc.property(fc.oneof(arbId, arbNotId), (name) => {
        let valid = true;
        try {
          validateId(name);
        } catch {
          valid = false;
        }
        expect(isIdName(name)).toBe(valid);
      }),
      params,
    );
  });
});
