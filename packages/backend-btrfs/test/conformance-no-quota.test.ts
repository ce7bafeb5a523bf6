import { describeBackendConformance } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { backendOn, btrfsFileAccess, createLoopBtrfs, type LoopBtrfs } from './helpers/loop-btrfs.js';

let fs: LoopBtrfs;
let peerFs: LoopBtrfs;

describeWith('btrfs', 'btrfs backend, quota off, on a loopback btrfs', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
    peerFs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
    await peerFs?.destroy();
  });

  describeBackendConformance('btrfs (no quota)', {
    create: () => backendOn(fs, false),
    // Another host: its own filesystem, so received versions are found by their received UUID.
    peer: () => backendOn(peerFs, false),
    files: btrfsFileAccess,
    capacityBytes: 32 << 20,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
    extra: ({ backend, files }) => {
      it('leaves btrfs quotas off and measures usage with filesystem du', async () => {
        expect(backend().capabilities.quota).toBe(false);
        const fork = await backend().createFork('f1', { capacityBytes: 32 << 20 });
        await files.fill(fork.mountPath, 'a.bin', 3 << 20);
        expect((await backend().usage('fork', 'f1')).usedBytes).toBeGreaterThanOrEqual(3 << 20);
        expect(await fs.quotasEnabled()).toBe(false);
      });
    },
  });
});
