import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackendConformance } from '@cachevol/core/testing';
import { createDirBackend, type ReflinkMode } from '../src/index.js';

const fresh = (reflink: ReflinkMode) => {
  const root = mkdtempSync(join(tmpdir(), 'cachevol-dir-'));
  return {
    backend: createDirBackend({ root, reflink }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
};

describeBackendConformance('dir (reflink auto)', { create: () => fresh('auto'), peer: () => fresh('auto') });
describeBackendConformance('dir (reflink never)', {
  create: () => fresh('never'),
  peer: () => fresh('never'),
});
