import { describeBackendConformance } from '@cachevol/core/testing';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackend } from '../src/index.js';
import { useTestPool } from './zfs-pool.js';

describeWith('zfs', 'zfs backend on a real pool', () => {
  const pool = useTestPool();
  describeBackendConformance('zfs', {
    create: async () => {
      const backend = createZfsBackend({ dataset: await pool.newDataset() });
      return { backend, cleanup: () => pool.destroyDataset(backend.dataset) };
    },
    capacityBytes: 32 * 1024 * 1024,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
  });
});
