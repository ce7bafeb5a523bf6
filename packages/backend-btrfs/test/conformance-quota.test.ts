import { describeBackendConformance } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { type BtrfsBackend, createBtrfsBackend } from '../src/index.js';
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
    create: async () => createBtrfsBackend({ root: await fs.freshRoot() }),
    destroy: async (backend) => {
      await removeAll(backend);
      expect(await leftovers((backend as BtrfsBackend).root)).toEqual([]);
      expect(await fs.subvolumesUnder((backend as BtrfsBackend).root)).toEqual([]);
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
