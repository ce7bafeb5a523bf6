/**
 * Deterministic volumes for the store benchmarks: a few volumes made for real through
 * `CacheVolumes` (the ones a store benchmark then cycles on), and any number of filler volumes
 * shaped exactly like them, written straight through `store.transact`, so that a store holds
 * 10, 5,000 or 50,000 volumes within seconds.
 *
 * Every volume, real or filler, is the slice the engine leaves after three jobs: a miss
 * committed (version 1), a hit committed on top of it (version 2, the head), and a hit
 * abandoned. So it has a record with two committed versions, and three ended forks (two
 * committed, one abandoned) that stay in the store until `gc()` prunes them; no live fork.
 */
import { CacheVolumes } from '@cachevol/core';
import { createRng } from './prng.mjs';

/** The scope every store benchmark volume is in. */
export const SCOPE = 'bench';
/** The host name the benchmark engines use. */
export const HOST = 'bench-host';
/** The clock every seeded record starts from (2025-01-01). */
const T0 = Date.UTC(2025, 0, 1);

/**
 * The name of measured volume `i` (`m-00`, `m-01`, ...).
 *
 * @param {number} i - index
 */
export const measuredName = (i) => `m-${String(i).padStart(2, '0')}`;

/**
 * The name of filler volume `i` (`v-000000`, ...).
 *
 * @param {number} i - index
 */
export const fillerName = (i) => `v-${String(i).padStart(6, '0')}`;

/**
 * Ids in the engine's own format (`f-<base36 time>-<12 hex>`), drawn from a seeded generator,
 * so that every run writes the same ids and records of the same size as real ones.
 *
 * @param {string} seed - the generator's seed
 * @returns {(kind: 'fork' | 'version') => string}
 */
export function idMaker(seed) {
  const rng = createRng(seed);
  const hex = () =>
    Array.from({ length: 12 }, () => '0123456789abcdef'[Math.floor(rng.next() * 16)]).join('');
  return (kind) => `${kind === 'fork' ? 'f' : 'v'}-${(T0 + rng.int(0, 1e9)).toString(36)}-${hex()}`;
}

/**
 * Makes one volume the way three jobs would (see the module comment), through an engine on
 * `backend` and `store`, and returns its slice with its ended forks, as a template for
 * fillers.
 *
 * @param {object} options
 * @param {import('@cachevol/core').Store} options.store - the store
 * @param {import('@cachevol/backend-memory').MemoryBackend} options.backend - a memory backend
 * @param {string} options.name - the volume's name
 * @param {(kind: 'fork' | 'version') => string} options.newId - id maker
 * @returns {Promise<import('@cachevol/core').VolumeSlice>} the slice, ended forks included
 */
export async function makeRealVolume({ store, backend, name, newId }) {
  let at = T0;
  const volumes = new CacheVolumes({ backend, store, host: HOST, newId, clock: () => (at += 1000) });
  const forkIds = [];
  const first = await volumes.attach(name, { scope: SCOPE, job: 'seed-1', size: '20g' });
  forkIds.push(first.id);
  backend.files(first.id).write('package.json', '{"name":"bench","version":"1.0.0"}\n');
  backend.files(first.id).write('node_modules/.package-lock.json', '{"lockfileVersion":3}\n');
  await first.commit();
  const second = await volumes.attach(name, { scope: SCOPE, job: 'seed-2', size: '20g' });
  forkIds.push(second.id);
  backend.files(second.id).write('node_modules/.bench-stamp', 'seed\n');
  await second.commit();
  const third = await volumes.attach(name, { scope: SCOPE, job: 'seed-3', size: '20g' });
  forkIds.push(third.id);
  await third.abandon();
  const slice = await store.read({ scope: SCOPE, name });
  const forks = { ...slice.forks };
  for (const id of forkIds)
    forks[id] = /** @type {import('@cachevol/core').ForkRecord} */ (await store.findFork(id));
  return { ...slice, forks };
}

/**
 * A function that makes filler `i`'s slice from a template: the template's records with the
 * volume renamed, every fork and version id replaced by fresh ones, and every time moved back
 * by `i` seconds (so volumes do not all look used at the same instant).
 *
 * @param {import('@cachevol/core').VolumeSlice} template - from {@link makeRealVolume}
 * @param {string} seed - the id generator's seed
 * @returns {(i: number) => import('@cachevol/core').VolumeSlice}
 */
export function fillerMaker(template, seed) {
  const newId = idMaker(seed);
  const ids = [...Object.keys(template.volume?.versions ?? {}), ...Object.keys(template.forks)];
  const text = JSON.stringify({ volume: template.volume, forks: template.forks });
  const timeKeys = new Set(['committedAt', 'lastUsedAt', 'createdAt', 'expiresAt', 'endedAt', 'leaseUntil']);
  return (i) => {
    const name = fillerName(i);
    let out = text.replaceAll(`"name":"${template.name}"`, `"name":"${name}"`);
    for (const id of ids)
      out = out.replaceAll(`"${id}"`, `"${newId(id.startsWith('f-') ? 'fork' : 'version')}"`);
    const shift = i * 1000;
    const parsed = JSON.parse(out, (key, value) =>
      timeKeys.has(key) && typeof value === 'number' ? value - shift : value,
    );
    for (const fork of Object.values(parsed.forks))
      if (typeof fork.mountPath === 'string') fork.mountPath = fork.mountPath.replace(/[^/]*$/, fork.id);
    const forks = Object.fromEntries(Object.values(parsed.forks).map((f) => [f.id, f]));
    return { scope: SCOPE, name, volume: parsed.volume, forks };
  };
}

/**
 * Writes fillers `0 .. count-1` into a store, each in its own `store.transact` (the only way
 * into a store), with up to `concurrency` transactions in flight (for a store that runs them
 * side by side: PostgreSQL; SQLite and memory run them one after another anyway).
 *
 * @param {import('@cachevol/core').Store} store - the store
 * @param {(i: number) => import('@cachevol/core').VolumeSlice} make - from {@link fillerMaker}
 * @param {number} count - how many
 * @param {number} concurrency - transactions in flight
 */
export async function seedFillers(store, make, count, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const slice = make(next++);
      await store.transact(slice, (current) => {
        if (current.volume !== null) throw new Error(`volume ${slice.name} already exists`);
        return { slice, result: undefined };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
