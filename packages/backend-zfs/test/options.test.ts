import { isCacheVolumeError } from '@cachevol/core';
import { describe, expect, it } from 'vitest';
import { createZfsBackend, zfsBackendOptionsSchema } from '../src/index.js';
import { datasetNameProblem } from '../src/internal/dataset-name.js';

function invalid(options: unknown): string {
  try {
    createZfsBackend(options as never);
  } catch (error) {
    expect(isCacheVolumeError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('ZFS backend options', () => {
  it('applies defaults and normalises mountRoot', () => {
    expect(zfsBackendOptionsSchema.parse({ dataset: 'tank/ci' })).toEqual({
      dataset: 'tank/ci',
      zfsPath: 'zfs',
    });
    expect(zfsBackendOptionsSchema.parse({ dataset: 'tank', mountRoot: '/mnt/x/../forks/' })).toMatchObject({
      mountRoot: '/mnt/forks',
    });
  });

  it('creates a backend without running anything', () => {
    const backend = createZfsBackend({ dataset: 'tank/ci', zfsPath: '/nonexistent/zfs' });
    expect(backend.name).toBe('zfs');
    expect(backend.dataset).toBe('tank/ci');
    expect(backend.capabilities).toEqual({
      copyOnWrite: true,
      constantTime: true,
      quota: true,
      transfer: true,
      changeDetection: false,
    });
  });

  it.each([
    '',
    '/tank/ci',
    'tank/',
    'tank//ci',
    'tank/../etc',
    'tank/./ci',
    'tank/ci@snap',
    'tank/ci#bookmark',
    'tank/has space',
    '1tank/ci',
    '-tank',
    'tank/-flag',
    'tank/ci;rm -rf x',
    'tank/$(x)',
    `tank/${'x'.repeat(200)}`,
  ])('refuses the dataset name %j, naming the option', (dataset) => {
    expect(datasetNameProblem(dataset)).toBeDefined();
    expect(invalid({ dataset })).toMatch(/dataset/);
  });

  it.each(['tank', 'tank/ci', 'rpool/ROOT/ci.cache_1:x-y'])('accepts the dataset name %j', (dataset) => {
    expect(datasetNameProblem(dataset)).toBeUndefined();
  });

  it('refuses a missing dataset, a relative mountRoot, an empty zfsPath and unknown options', () => {
    expect(invalid({})).toMatch(/dataset/);
    expect(invalid(undefined)).toMatch(/dataset/);
    expect(invalid({ dataset: 'tank/ci', mountRoot: 'relative/dir' })).toMatch(
      /mountRoot: must be an absolute path/,
    );
    expect(invalid({ dataset: 'tank/ci', zfsPath: '' })).toMatch(/zfsPath/);
    expect(invalid({ dataset: 'tank/ci', pool: 'tank' })).toMatch(/pool/);
  });
});
