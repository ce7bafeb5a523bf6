// Runs only through `npm run test:macos` (vitest.macos.config.ts), on macOS with hdiutil: the
// conformance suite (quota included), the engine model with crashes, and what the simulator
// cannot show (APFS clones, resize, busy detach, capacity enforcement).
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '@cachevol/core';
import { checkEngineModel, describeBackendConformance, nodeFileAccess } from '@cachevol/core/testing';
import { expect, it } from 'vitest';
import { createSparseBundleBackend, type SparseBundleBackend } from '../../src/index.js';

if (process.platform !== 'darwin' || !existsSync('/usr/bin/hdiutil')) {
  throw new Error('this needs macOS with hdiutil (/usr/bin/hdiutil): run `npm run test:macos` on a Mac');
}

const MIB = 2 ** 20;

async function createBackend(): Promise<SparseBundleBackend> {
  // tmpdir() is under /var/folders, which macOS resolves through /private: hdiutil reports the
  // /private spelling, so this also checks that the backend recognises its own images.
  const root = await mkdtemp(join(tmpdir(), 'cachevol-sb-real-'));
  return createSparseBundleBackend({ root, retryDelayMs: 200 });
}

async function destroyBackend(backend: Backend): Promise<void> {
  const sparse = backend as SparseBundleBackend;
  await sparse.detachLeftovers();
  for (const entry of await sparse.list()) {
    if (entry.kind === 'fork') await sparse.discardFork(entry.id);
    else await sparse.removeVersion(entry.id);
  }
  await rm(sparse.root, { recursive: true, force: true });
}

describeBackendConformance('sparsebundle (real hdiutil)', {
  create: async () => {
    const backend = await createBackend();
    return { backend, cleanup: () => destroyBackend(backend) };
  },
  timeout: 300_000,
  extra: ({ backend }) => {
    it('grows a fork of a version to a larger capacity (hdiutil resize), and APFS sees the room', async () => {
      const b = backend();
      await b.createFork('f1', { capacityBytes: 32 * MIB });
      await b.commitFork('f1', 'v1');
      const grown = await b.forkVersion('f2', 'v1', { capacityBytes: 256 * MIB });
      const fs = await statfs(grown.mountPath);
      expect(fs.blocks * fs.bsize).toBeGreaterThan(128 * MIB);
      await nodeFileAccess.fill(grown.mountPath, 'big.bin', 96 * MIB);
      expect((await b.usage('fork', 'f2')).usedBytes).toBeGreaterThan(96 * MIB);
    });

    it('commits while a file in the fork is still open (busy detach, then -force)', async () => {
      const b = backend();
      const a = await b.createFork('f1', { capacityBytes: 32 * MIB });
      const handle = await open(join(a.mountPath, 'held.txt'), 'w');
      try {
        await handle.write('held');
        await handle.sync();
        await b.commitFork('f1', 'v1');
      } finally {
        await handle.close().catch(() => undefined);
      }
      const c = await b.forkVersion('f2', 'v1', { capacityBytes: 32 * MIB });
      expect(await nodeFileAccess.read(c.mountPath, 'held.txt')).toBe('held');
    });

    it('mounts versions read-only', async () => {
      const b = backend() as SparseBundleBackend;
      const a = await b.createFork('f1', { capacityBytes: 32 * MIB });
      await nodeFileAccess.write(a.mountPath, 'a.txt', 'alpha');
      await b.commitFork('f1', 'v1');
      const v = await b.mountVersion('v1');
      expect(await nodeFileAccess.read(v.mountPath, 'a.txt')).toBe('alpha');
      await expect(nodeFileAccess.write(v.mountPath, 'b.txt', 'no')).rejects.toMatchObject({ code: 'EROFS' });
      await b.unmountVersion('v1');
    });
  },
});

it('CacheVolumes over real sparse bundles matches the reference model, crashes and reconcile included', async () => {
  await checkEngineModel({
    createBackend,
    destroyBackend,
    files: nodeFileAccess,
    numRuns: 5,
    maxCommands: 20,
  });
}, 1_800_000);
