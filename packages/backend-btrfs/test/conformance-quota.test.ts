import { describeBackendConformance } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { backendOn, btrfsFileAccess, createLoopBtrfs, type LoopBtrfs } from './helpers/loop-btrfs.js';

let fs: LoopBtrfs;
let peerFs: LoopBtrfs;

describeWith('btrfs', 'btrfs backend, quota on, on a loopback btrfs', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
    peerFs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
    await peerFs?.destroy();
  });

  describeBackendConformance('btrfs (quota)', {
    create: () => backendOn(fs, true),
    // Another host: its own filesystem, so received versions are found by their received UUID.
    peer: () => backendOn(peerFs, true),
    files: btrfsFileAccess,
    capacityBytes: 32 << 20,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
    extra: ({ backend }) => {
      it('declares quota and turns btrfs quotas on', async () => {
        expect(backend().capabilities.quota).toBe(true);
        await backend().list();
        expect(await fs.quotasEnabled()).toBe(true);
      });
    },
  });
});
