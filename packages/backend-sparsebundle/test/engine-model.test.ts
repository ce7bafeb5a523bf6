import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEngineModel, nodeFileAccess } from '@cachevol/core/testing';
import { it } from 'vitest';
import { PROPERTY_RUN_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { createSparseBundleBackend, type SparseBundleBackend } from '../src/index.js';
import { HdiutilSimulator } from './support/hdiutil-simulator.js';

it(
  'CacheVolumes over the sparsebundle backend (simulated hdiutil) matches the reference model, crashes and reconcile included',
  async () => {
    await checkEngineModel({
      createBackend: async () =>
        createSparseBundleBackend({
          root: await mkdtemp(join(tmpdir(), 'cachevol-sb-model-')),
          runner: new HdiutilSimulator().runner,
          retryDelayMs: 0,
        }),
      destroyBackend: async (backend) => {
        await rm((backend as SparseBundleBackend).root, { recursive: true, force: true });
      },
      files: nodeFileAccess,
      numRuns: 25,
    });
  },
  PROPERTY_RUN_TIMEOUT_MS,
);
