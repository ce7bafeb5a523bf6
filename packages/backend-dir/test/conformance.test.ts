import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '@cachevol/core';
import { describeBackendConformance } from '@cachevol/core/testing';
import { createDirBackend, type DirBackend, type ReflinkMode } from '../src/index.js';

const fresh = (reflink: ReflinkMode) =>
  createDirBackend({ root: mkdtempSync(join(tmpdir(), 'cachevol-dir-')), reflink });
const destroy = (backend: Backend) => rmSync((backend as DirBackend).root, { recursive: true, force: true });

describeBackendConformance('dir (reflink auto)', { create: () => fresh('auto'), destroy });
describeBackendConformance('dir (reflink never)', { create: () => fresh('never'), destroy });
