import { describeBackendConformance } from '@cachevol/core/testing';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackend } from '../src/index.js';
import { useTestPool } from './zfs-pool.js';

describeWith('zfs', 'zfs backend on a real pool', () => {
  const pool = useTestPool();
  describeBackendConformance('zfs', {
    create: async () => createZfsBackend({ dataset: await pool.newDataset() }),
    destroy: (backend) => pool.destroyDataset((backend as ReturnType<typeof createZfsBackend>).dataset),
    capacityBytes: 32 * 1024 * 1024,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
  });
});
