import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackendConformance } from '@cachevol/core/testing';
import { createSparseBundleBackend } from '../src/index.js';
import { HdiutilSimulator } from './support/hdiutil-simulator.js';

// The backend runs its real sequencing (create, clone, resize, attach, sync, detach, rename,
// info) against the hdiutil simulator, which keeps bundles and mounts on the real filesystem.
describeBackendConformance('sparsebundle (simulated hdiutil)', {
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), 'cachevol-sparsebundle-'));
    const backend = createSparseBundleBackend({
      root,
      runner: new HdiutilSimulator().runner,
      retryDelayMs: 0,
    });
    return { backend, cleanup: () => rm(root, { recursive: true, force: true }) };
  },
  // Sparse bundles do enforce their size on macOS (capabilities.quota is true), but the
  // simulator's "volume" is a plain directory that cannot refuse writes, so the capacity test
  // only runs against real hdiutil (npm run test:macos).
  skip: ['quota'],
});
