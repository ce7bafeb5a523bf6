import { checkEngineModel } from '@cachevol/core/testing';
import { it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { createMemoryBackend, type MemoryBackend, memoryFileAccess } from '../src/index.js';

it(
  'CacheVolumes over the memory backend matches the reference model, crashes and reconcile included',
  async () => {
    await checkEngineModel({
      createBackend: () => createMemoryBackend(),
      files: (backend) => memoryFileAccess(backend as MemoryBackend),
      numRuns: 300,
    });
  },
  PROPERTY_RUN_TIMEOUT_MS,
);
