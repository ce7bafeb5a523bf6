import { describeBackendConformance } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createBtrfsBackend } from '../src/index.js';
import {
  btrfsFileAccess,
  createLoopBtrfs,
  type LoopBtrfs,
  leftovers,
  removeAll,
} from './helpers/loop-btrfs.js';

let fs: LoopBtrfs;

describeWith('btrfs', 'btrfs backend, quota on, on a loopback btrfs', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
  });

  describeBackendConformance('btrfs (quota)', {
    create: async () => {
      const backend = createBtrfsBackend({ root: await fs.freshRoot() });
      const cleanup = async () => {
        await removeAll(backend);
        expect(await leftovers(backend.root)).toEqual([]);
        expect(await fs.subvolumesUnder(backend.root)).toEqual([]);
      };
      return { backend, cleanup };
    },
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
