import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeStoreConformance } from '@cachevol/core/testing';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { createSqliteStore } from '../src/index.js';
import { PATIENT_BUSY_TIMEOUT_MS, TEST_BUSY_TIMEOUT_MS, tempDir } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/open-store.mjs', import.meta.url));

describeStoreConformance('sqlite', {
  clients: true,
  processes: true,
  // Longer than the workers' busy timeout: the other writers give up while the stalled one waits.
  stallMs: 4 * TEST_BUSY_TIMEOUT_MS,
  // Child processes start slowly on a loaded machine; this deadline is for a hang.
  timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
  create: () => {
    const { dir, remove } = tempDir();
    const config = { path: join(dir, 'state.db'), busyTimeoutMs: TEST_BUSY_TIMEOUT_MS };
    return {
      store: createSqliteStore(config),
      open: () => createSqliteStore(config),
      worker: {
        module: fixture,
        config,
        patientConfig: { ...config, busyTimeoutMs: PATIENT_BUSY_TIMEOUT_MS },
      },
      cleanup: remove,
    };
  },
});
