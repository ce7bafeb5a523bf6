import { checkEngineModel } from '@cachevol/core/testing';
import { it } from 'vitest';
import { createMemoryBackend, type MemoryBackend, memoryFileAccess } from '../src/index.js';

it('CacheVolumes over the memory backend matches the reference model, crashes and reconcile included', async () => {
  await checkEngineModel({
    createBackend: () => createMemoryBackend(),
    files: (backend) => memoryFileAccess(backend as MemoryBackend),
    numRuns: 300,
  });
}, 240_000);
