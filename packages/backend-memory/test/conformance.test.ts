import { describeBackendConformance } from '@cachevol/core/testing';
import { createMemoryBackend, type MemoryBackend } from '../src/index.js';
import { memoryFileAccess } from '../src/memory-file-access.js';

let current: MemoryBackend;

describeBackendConformance('memory', {
  create: () => {
    current = createMemoryBackend();
    return { backend: current };
  },
  files: memoryFileAccess(() => current),
});
