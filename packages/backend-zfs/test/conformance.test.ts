import { describeBackendConformance } from '@cachevol/core/testing';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackend } from '../src/index.js';
import { type TestPool, useTestPool } from './zfs-pool.js';

describeWith('zfs', 'zfs backend on a real pool', () => {
  const pool = useTestPool();
  // Another host: its own pool, where received snapshots are found by their GUID.
  const peerPool = useTestPool();
  const on = (testPool: TestPool) => async () => {
    const backend = createZfsBackend({ dataset: await testPool.newDataset() });
    return { backend, cleanup: () => testPool.destroyDataset(backend.dataset) };
  };
  describeBackendConformance('zfs', {
    create: on(pool),
    peer: on(peerPool),
    capacityBytes: 32 * 1024 * 1024,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
  });
});
