import { describeBackendConformance } from '@cachevol/core/testing';
import { createZfsBackend } from '../src/index.js';
import { describeZfs, useTestPool } from './zfs-pool.js';

describeZfs('zfs backend on a real pool', () => {
  const pool = useTestPool();
  describeBackendConformance('zfs', {
    create: async () => createZfsBackend({ dataset: await pool.newDataset() }),
    destroy: (backend) => pool.destroyDataset((backend as ReturnType<typeof createZfsBackend>).dataset),
    capacityBytes: 32 * 1024 * 1024,
  });
});
