// The SDK in thirty lines: attach a fork of a cache volume, write to it, commit it, and attach
// again to get a fork of what was committed. Uses the in-memory backend, so it needs nothing
// installed. Run it with `npm run example:sdk` (after `npm ci`).
import { createMemoryBackend } from '@cachevol/backend-memory';
import { CacheVolumes, createMemoryStore, formatSize } from '@cachevol/core';

const backend = createMemoryBackend();
const volumes = new CacheVolumes({ backend, store: createMemoryStore(), host: 'example-host' });
volumes.on('attach', ({ fork }) =>
  console.log(`attach ${fork.name}: ${fork.result} (capacity ${formatSize(fork.capacityBytes)})`),
);

// Job 1: the first attach starts empty (a miss); the job fills the cache and exits 0.
const job1 = await volumes.attach('node-modules', { scope: 'my-pipeline', job: 'build-1' });
backend.files(job1).write('node_modules/left-pad/index.js', 'module.exports = (s, n) => s.padStart(n);');
console.log('job 1 finished:', (await job1.finish(0)).action);

// Job 2 fails: its fork is abandoned and changes nothing.
const job2 = await volumes.attach('node-modules', { scope: 'my-pipeline', job: 'build-2' });
backend.files(job2).write('node_modules/broken.js', 'oops');
console.log('job 2 finished:', (await job2.finish(1)).action);

// Job 3 gets a fork of job 1's version (a hit), with exactly its files.
const job3 = await volumes.attach('node-modules', { scope: 'my-pipeline', job: 'build-3' });
console.log('job 3 sees:', backend.files(job3).list());
await job3.abandon();

const [stats] = await volumes.stats();
console.log(
  `hit ratio for ${stats.name}: ${stats.hitRatio} (hit ${stats.counts.hit}, miss ${stats.counts.miss})`,
);
