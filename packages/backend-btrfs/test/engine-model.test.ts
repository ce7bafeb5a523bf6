import { checkEngineModel } from '@cachevol/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
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

describeWith('btrfs', 'CacheVolumes over the btrfs backend', () => {
  beforeAll(async () => {
    fs = await createLoopBtrfs();
  });
  afterAll(async () => {
    await fs?.destroy();
  });

  it(
    'matches the reference model, crashes and reconcile included',
    async () => {
      await checkEngineModel({
        createBackend: async () => createBtrfsBackend({ root: await fs.freshRoot() }),
        destroyBackend: async (backend) => {
          await removeAll(backend);
          expect(await leftovers((backend as BtrfsBackend).root)).toEqual([]);
          expect(await fs.subvolumesUnder((backend as BtrfsBackend).root)).toEqual([]);
        },
        files: btrfsFileAccess,
        numRuns: 5,
      });
    },
    PROPERTY_RUN_TIMEOUT_MS,
  );
});
