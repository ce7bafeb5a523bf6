import { checkEngineModel, nodeFileAccess } from '@cachevol/core/testing';
import { it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackend, type ZfsBackend } from '../src/index.js';
import { useTestPool } from './zfs-pool.js';

describeWith('zfs', 'the CacheVolumes engine over the zfs backend', () => {
  const pool = useTestPool();

  it('matches the reference model, with crashes and reconcile', {
    timeout: PROPERTY_RUN_TIMEOUT_MS,
  }, async () => {
    await checkEngineModel({
      createBackend: async () => createZfsBackend({ dataset: await pool.newDataset() }),
      destroyBackend: (backend) => pool.destroyDataset((backend as ZfsBackend).dataset),
      files: nodeFileAccess,
      numRuns: 5,
      maxCommands: 25,
    });
  });
});
