import { join } from 'node:path';
import { createMemoryBackend } from '@cachevol/backend-memory';
import { CacheVolumes } from '@cachevol/core';
import { expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { tempDirPerTest } from './helpers.js';

const dir = tempDirPerTest();

it('serves CacheVolumes: a commit is the head of the next attach, also after reopening the database', async () => {
  const path = join(dir(), 'state.db');
  const backend = createMemoryBackend();
  const first = createSqliteStore({ path });
  const volumes = new CacheVolumes({ backend, store: first, host: 'host-a' });
  const job1 = await volumes.attach('deps', { scope: 'pipe', job: 'build-1' });
  backend.files(job1).write('node_modules/a.js', 'one');
  expect((await job1.finish(0)).action).toBe('committed');
  const failed = await volumes.attach('deps', { scope: 'pipe', job: 'build-2' });
  expect(failed.result).toBe('hit');
  await failed.finish(1);
  await first.close();

  const second = createSqliteStore({ path });
  const again = new CacheVolumes({ backend, store: second, host: 'host-a' });
  const job3 = await again.attach('deps', { scope: 'pipe', job: 'build-3' });
  expect(job3.result).toBe('hit');
  expect(backend.files(job3).readText('node_modules/a.js')).toBe('one');
  await job3.abandon();
  const [stats] = await again.stats();
  expect(stats?.counts).toEqual({ hit: 2, stale: 0, miss: 1 });
  await second.close();
});
