/**
 * The core alone, no storage: parent selection over volumes with many versions, and how many
 * attach + commit cycles per second the engine runs on the memory backend and memory store.
 */
import { createMemoryBackend } from '@cachevol/backend-memory';
import { CacheVolumes, createMemoryStore, resolvePolicy, selectParent } from '@cachevol/core';
import { now, round, summarize } from './util.mjs';

const SCOPE = 'bench';
const NAME = 'deps';
const HOST = 'host-b';
const T0 = Date.UTC(2025, 0, 1);

/**
 * A volume with `count` committed versions (one per minute, the newest is the head), every
 * third one also held by `host-a`, plus some live forks spread over recent versions.
 *
 * @param {number} count - versions
 * @returns {{ volume: import('@cachevol/core').VolumeRecord, forks: import('@cachevol/core').ForkRecord[], now: number }}
 */
export function syntheticVolume(count) {
  const versions = {};
  for (let seq = 1; seq <= count; seq++) {
    const id = `v-${seq}`;
    versions[id] = {
      id,
      seq,
      baseId: seq > 1 ? `v-${seq - 1}` : null,
      usedBytes: 500 * 2 ** 20,
      committedAt: T0 + seq * 60_000,
      lastUsedAt: T0 + seq * 60_000,
      hosts: seq % 3 === 0 ? ['host-a', HOST] : [HOST],
      state: 'committed',
    };
  }
  const at = T0 + (count + 1) * 60_000;
  const forks = [];
  for (let i = 0; i < Math.min(50, count); i++) {
    const base = `v-${count - (i % Math.min(5, count))}`;
    forks.push({
      id: `f-${i}`,
      scope: SCOPE,
      name: NAME,
      baseId: base,
      result: 'hit',
      requestedBytes: 20 * 2 ** 30,
      capacityBytes: 21 * 2 ** 30,
      host: HOST,
      job: `job-${i}`,
      commitMode: 'on-success',
      createdAt: at - 1000,
      expiresAt: at + 3_600_000,
      mountPath: `/cache/f-${i}`,
      state: 'attached',
      versionId: null,
      endedAt: null,
    });
  }
  const volume = {
    scope: SCOPE,
    name: NAME,
    seq: count,
    versions,
    versionIds: Object.keys(versions),
    counts: { hit: 0, stale: 0, miss: 0 },
    lastUsedAt: at,
  };
  return { volume, forks, now: at };
}

/**
 * Times a synchronous call: `samples` samples, each the mean of a batch sized so that one
 * batch takes at least ~0.2 ms (so timer resolution does not dominate tiny calls).
 *
 * @param {() => unknown} fn - the call
 * @param {number} samples - how many samples
 * @returns {import('./util.mjs').Summary & { batch: number }}
 */
function timeCall(fn, samples) {
  const first = now();
  fn();
  const warmup = now() - first > 5 ? 1 : 20;
  for (let i = 0; i < warmup; i++) fn();
  let batch = 1;
  for (;;) {
    const started = now();
    for (let i = 0; i < batch; i++) fn();
    if (now() - started >= 0.2 || batch >= 1 << 20) break;
    batch *= 2;
  }
  const times = [];
  for (let s = 0; s < samples; s++) {
    const started = now();
    for (let i = 0; i < batch; i++) fn();
    times.push((now() - started) / batch);
  }
  return { ...summarize(times), batch };
}

/**
 * Parent selection (`selectParent`, pure) over 10, 1,000 and 100,000 versions: the common case
 * (the head is usable) and a stale pick (the head is busy, so the newest usable older version
 * local to the host is chosen), and the worst case, a miss on a host that holds no version
 * (selection looks at every version). Also `CacheVolumes.lookup()` through the memory store,
 * which copies the state on every read.
 *
 * @param {{ quick: boolean }} options - quick mode takes fewer samples
 */
export async function benchSelection({ quick }) {
  const results = [];
  for (const count of [10, 1000, 100_000]) {
    const { volume, forks, now: at } = syntheticVolume(count);
    const request = { host: HOST, now: at };
    const cases = [
      { case: 'head', policy: resolvePolicy(), request },
      {
        case: 'stale (head busy, host-a)',
        policy: resolvePolicy({ maxForksPerVersion: 1 }),
        request: { host: 'host-a', now: at },
      },
      // The worst case: a host that holds no version looks at every one of them, then misses.
      { case: 'miss (no version on host-c)', policy: resolvePolicy(), request: { host: 'host-c', now: at } },
    ];
    for (const c of cases) {
      const picked = selectParent(volume, forks, c.request, c.policy);
      const samples = count >= 100_000 ? (quick ? 3 : 50) : quick ? 30 : 500;
      const timing = timeCall(() => selectParent(volume, forks, c.request, c.policy), samples);
      results.push({
        versions: count,
        case: c.case,
        result: picked.result,
        picked: picked.version?.id ?? null,
        ...timing,
      });
    }
    const store = createMemoryStore();
    const slice = {
      scope: volume.scope,
      name: volume.name,
      volume,
      forks: Object.fromEntries(forks.map((f) => [f.id, f])),
    };
    await store.transact(volume, () => ({ slice, result: undefined }));
    const volumes = new CacheVolumes({
      backend: createMemoryBackend(),
      store,
      host: HOST,
      clock: () => at,
    });
    const lookups = [];
    for (let i = 0; i < (count >= 100_000 ? (quick ? 2 : 10) : quick ? 5 : 100); i++) {
      const started = now();
      await volumes.lookup(NAME, { scope: SCOPE });
      lookups.push(now() - started);
    }
    results.push({
      versions: count,
      case: 'CacheVolumes.lookup() (memory store)',
      ...summarize(lookups),
      batch: 1,
    });
  }
  return results;
}

/**
 * Attach + commit cycles per second on the memory backend and memory store: a fresh volume,
 * each cycle attaches a fork of the head, writes one small file and commits. Without cleanup
 * the state grows (every version and ended fork is kept), so the rate is given for the first
 * and the last tenth too; with `gc()` every 50 cycles the state stays small.
 *
 * @param {{ quick: boolean }} options - quick mode runs fewer cycles
 */
export async function benchEngine({ quick }) {
  const cycles = quick ? 300 : 1000;
  const out = [];
  for (const withGc of [false, true]) {
    const backend = createMemoryBackend();
    const store = createMemoryStore();
    const volumes = new CacheVolumes({ backend, store, host: HOST, keepEndedMs: 1 });
    const cleaner = new CacheVolumes({
      backend,
      store,
      host: HOST,
      keepEndedMs: 1,
      policy: { maxTotalBytes: 8 },
    });
    const times = [];
    const started = now();
    for (let i = 0; i < cycles; i++) {
      const t = now();
      const fork = await volumes.attach(NAME, { scope: SCOPE, job: `job-${i}` });
      backend.files(fork).write('stamp', `${i}`);
      await fork.commit();
      times.push(now() - t);
      if (withGc && i % 50 === 49) await cleaner.gc();
    }
    const total = now() - started;
    const tenth = Math.max(1, Math.floor(cycles / 10));
    const rate = (slice) => round(slice.length / (slice.reduce((a, b) => a + b, 0) / 1000));
    const slice = await store.read({ scope: SCOPE, name: NAME });
    out.push({
      case: withGc ? 'with gc() every 50 cycles' : 'no cleanup (state grows)',
      cycles,
      cyclesPerSecond: round(cycles / (total / 1000)),
      firstTenthPerSecond: rate(times.slice(0, tenth)),
      lastTenthPerSecond: rate(times.slice(-tenth)),
      cycleMs: summarize(times),
      finalVersions: Object.keys(slice.volume?.versions ?? {}).length,
    });
  }
  return out;
}
