import { createMemoryBackend } from '@cachevol/backend-memory';
import { describe, expect, it } from 'vitest';
import { type Backend, CacheVolumes, createMemoryStore } from '../../src/index.js';

/** A memory backend that declares `transfer`, as the btrfs, zfs and dir backends now do. */
function transferringBackend(): Backend {
  const backend = createMemoryBackend();
  const capabilities = Object.freeze({ ...backend.capabilities, transfer: true });
  return new Proxy(backend, {
    get: (target, property, receiver) =>
      property === 'capabilities' ? capabilities : Reflect.get(target, property, receiver),
  });
}

describe('hosts sharing one store, with backends that can transfer', () => {
  it('a host without the head misses, and the head stays: the engine does not pull versions yet', async () => {
    const store = createMemoryStore();
    const a = new CacheVolumes({ backend: transferringBackend(), store, host: 'a' });
    const b = new CacheVolumes({ backend: transferringBackend(), store, host: 'b' });
    const fork = await a.attach('deps');
    await fork.commit();
    const head = (await a.lookup('deps')).version?.id;
    expect(head).toBeDefined();

    const elsewhere = await b.attach('deps');
    expect(elsewhere.result).toBe('miss');
    await elsewhere.abandon();
    // Not passed over as lost: host b's backend lacking it says nothing about host a's copy.
    expect((await a.lookup('deps')).version?.id).toBe(head);
  });

  it('an explicit policy.transfer still lets a host select versions other hosts hold', async () => {
    const store = createMemoryStore();
    const a = new CacheVolumes({ backend: transferringBackend(), store, host: 'a' });
    const b = new CacheVolumes({
      backend: transferringBackend(),
      store,
      host: 'b',
      policy: { transfer: true },
    });
    await (await a.attach('deps')).commit();
    expect((await b.lookup('deps')).result).toBe('hit');
  });
});
