import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Backend,
  CacheVolumeError,
  CacheVolumes,
  DEFAULT_TRANSFER_BUDGET_MS,
  type FleetOptions,
  formatSize,
  httpVersionSource,
  isCacheVolumeError,
  type ObjectTierOptions,
  type Store,
} from '@cachevol/core';
import { trackEngine } from './engines.js';
import type { Globals } from './globals.js';
import type { Output } from './output.js';

/** Where things live under `--root`. */
export function rootLayout(root: string) {
  return {
    /** The SQLite state database (the default store). */
    database: join(root, 'state.db'),
    /** The first release's JSON state, imported once into the database and then kept as `state.json.imported`. */
    legacyState: join(root, 'state.json'),
    /** The backend's own directory (dir, btrfs and sparsebundle backends). */
    data: join(root, 'data'),
    /** Records which backend the root was made with, so another one is not used by mistake. */
    marker: join(root, 'cachevol.json'),
  };
}

interface Marker {
  backend: string;
  dataset?: string;
}

function unavailable(what: string, pkg: string, cause: unknown): CacheVolumeError {
  return new CacheVolumeError(
    'BACKEND_UNAVAILABLE',
    `${what} needs the package ${pkg} (npm install ${pkg}); it could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
}

async function importBackend(kind: Globals['backend'], globals: Globals, data: string): Promise<Backend> {
  const load = <T>(pkg: string, loader: () => Promise<T>) =>
    loader().catch((e: unknown) => {
      throw unavailable(`--backend ${kind}`, pkg, e);
    });
  switch (kind) {
    case 'dir': {
      const mod = await load('@cachevol/backend-dir', () => import('@cachevol/backend-dir'));
      return mod.createDirBackend({ root: data });
    }
    case 'btrfs': {
      await mkdir(data, { recursive: true });
      const mod = await load('@cachevol/backend-btrfs', () => import('@cachevol/backend-btrfs'));
      return mod.createBtrfsBackend({ root: data });
    }
    case 'zfs': {
      const mod = await load('@cachevol/backend-zfs', () => import('@cachevol/backend-zfs'));
      return mod.createZfsBackend({ dataset: globals.dataset as string });
    }
    case 'sparsebundle': {
      await mkdir(data, { recursive: true });
      const mod = await load(
        '@cachevol/backend-sparsebundle',
        () => import('@cachevol/backend-sparsebundle'),
      );
      return mod.createSparseBundleBackend({ root: data });
    }
  }
}

async function openStore(globals: Globals): Promise<Store> {
  const layout = rootLayout(globals.root);
  if (globals.store !== 'sqlite') {
    const mod = await import('@cachevol/store-postgres').catch((e: unknown) => {
      throw unavailable('--store postgres://…', '@cachevol/store-postgres', e);
    });
    return mod.createPostgresStore({ connectionString: globals.store });
  }
  const mod = await import('@cachevol/store-sqlite').catch((e: unknown) => {
    throw unavailable('the default store', '@cachevol/store-sqlite', e);
  });
  await mkdir(globals.root, { recursive: true });
  return mod.createSqliteStore({ path: layout.database, importFrom: layout.legacyState });
}

async function checkMarker(globals: Globals, create: boolean): Promise<void> {
  const { marker } = rootLayout(globals.root);
  const wanted: Marker = {
    backend: globals.backend,
    ...(globals.backend === 'zfs' ? { dataset: globals.dataset } : {}),
  };
  let found: Marker | null = null;
  try {
    found = JSON.parse(await readFile(marker, 'utf8')) as Marker;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CacheVolumeError('STORE_FAILED', `Cannot read ${marker}: ${String(error)}`, { cause: error });
    }
  }
  if (!found) {
    if (!create) return;
    await mkdir(globals.root, { recursive: true });
    await writeFile(marker, `${JSON.stringify(wanted)}\n`, { flag: 'wx' }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
    return checkMarker(globals, false);
  }
  if (found.backend !== wanted.backend || (wanted.dataset && found.dataset !== wanted.dataset)) {
    const was = found.dataset ? `${found.backend} (dataset ${found.dataset})` : found.backend;
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `The root ${globals.root} holds volumes of the ${was} backend, not ${globals.backend}; pass --backend ${found.backend} or use another --root.`,
      { details: { root: globals.root, backend: found.backend } },
    );
  }
}

function describeEntries(entries: { kind: string }[]): string {
  const versions = entries.filter((e) => e.kind === 'version').length;
  const forks = entries.length - versions;
  return `${versions} version(s) and ${forks} fork(s)`;
}

/**
 * Refuses a store that records nothing while the backend holds data: that is a lost or
 * replaced database, and going on would turn every run into a miss and let gc delete the data
 * as unaccounted. Costs one store query, plus a backend listing only when the store is empty.
 */
async function checkStoreAccountsForData(globals: Globals, store: Store, backend: Backend): Promise<void> {
  if ((await store.listVolumes({ limit: 1 })).slices.length > 0) return;
  const entries = await backend.list();
  if (entries.length === 0) return;
  const where =
    globals.store === 'sqlite' ? rootLayout(globals.root).database : 'the PostgreSQL store (--store)';
  const restore =
    globals.store === 'sqlite'
      ? `restore ${where} (with its -wal file) from a backup`
      : 'point --store at the database that holds this root’s state';
  throw new CacheVolumeError(
    'STORE_FAILED',
    `The state store ${where} records no volumes, but the ${globals.backend} backend under ${globals.root} holds ${describeEntries(entries)}. cachevol will not start from an empty state over existing data (every run would miss, and gc would delete it). If the state was lost, ${restore}; to discard the data instead, run \`cachevol gc --force\`.`,
    { details: { root: globals.root, store: where, entries: entries.length } },
  );
}

/** The engine's `fleet` option from `--peer`, the token and `--transfer-budget` (none without peers). */
function fleetOptions(globals: Globals): { fleet?: FleetOptions } {
  if (globals.peers.length === 0 || !globals.token) return {};
  const token = globals.token;
  const peers = Object.fromEntries(
    globals.peers.map(({ host, url }) => [
      host,
      httpVersionSource({
        url,
        token,
        idleTimeoutMs: globals.transferBudgetMs ?? DEFAULT_TRANSFER_BUDGET_MS,
      }),
    ]),
  );
  return { fleet: { peers, ...(globals.transferBudgetMs ? { budgetMs: globals.transferBudgetMs } : {}) } };
}

/** The engine's `objects` option from `--objects`, `--objects-endpoint` and `--objects-format`. */
async function openObjects(globals: Globals): Promise<ObjectTierOptions | undefined> {
  if (!globals.objects) return undefined;
  const mod = await import('@cachevol/objects-s3').catch((e: unknown) => {
    throw unavailable('--objects', '@cachevol/objects-s3', e);
  });
  const [bucket, ...prefix] = globals.objects.slice('s3://'.length).split('/');
  const store = mod.createS3ObjectStore({
    bucket: bucket as string,
    ...(prefix.filter(Boolean).length > 0 ? { prefix: prefix.filter(Boolean).join('/') } : {}),
    ...(globals.objectsEndpoint ? { endpoint: globals.objectsEndpoint } : {}),
  });
  return { store, ...(globals.objectsFormat ? { format: globals.objectsFormat } : {}) };
}

/** Options of {@link openEngine}. */
export interface OpenOptions {
  /** Make the root when missing (commands that attach); otherwise a root never used gives `null`. */
  create: boolean;
  /** Open even when the store records nothing but the backend holds data (`gc --force`). */
  allowUnrecorded?: boolean;
}

/**
 * Opens the engine over the root's store and backend. Close it with `closeEngines()` from
 * engines.ts (the CLI's `main` does, whatever the command did).
 *
 * @param globals - backend, root, dataset, store, lease
 * @param options - `create`, `allowUnrecorded`
 */
export async function openEngine(
  globals: Globals,
  options: OpenOptions & { create: true },
): Promise<CacheVolumes>;
export async function openEngine(globals: Globals, options: OpenOptions): Promise<CacheVolumes | null>;
export async function openEngine(globals: Globals, options: OpenOptions): Promise<CacheVolumes | null> {
  const layout = rootLayout(globals.root);
  const used =
    globals.store !== 'sqlite' ||
    existsSync(layout.database) ||
    existsSync(layout.legacyState) ||
    existsSync(layout.marker);
  if (!options.create && !used) return null;
  await checkMarker(globals, options.create);
  const backend = await importBackend(globals.backend, globals, layout.data);
  const store = await openStore(globals);
  try {
    if (!options.allowUnrecorded) await checkStoreAccountsForData(globals, store, backend);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  const objects = await openObjects(globals).catch(async (error: unknown) => {
    await store.close().catch(() => undefined);
    throw error;
  });
  const engine = new CacheVolumes({
    backend,
    store,
    ...(objects ? { objects } : {}),
    ...(globals.host ? { host: globals.host } : {}),
    ...fleetOptions(globals),
    ...(globals.leaseMs ? { leaseMs: globals.leaseMs } : {}),
    policy: {
      ...(globals.retentionMs ? { retentionMs: globals.retentionMs } : {}),
      ...(globals.maxTotalBytes ? { maxTotalBytes: globals.maxTotalBytes } : {}),
      ...(globals.maxVersionsPerVolume ? { maxVersionsPerVolume: globals.maxVersionsPerVolume } : {}),
    },
  });
  trackEngine(engine);
  return engine;
}

/**
 * Opens the engine for commands that run a job (`run`, `pipeline run`). The cache never fails a
 * job: when the state cannot be opened (a lost database, a store that is down, a missing
 * package), it warns once and returns `null`, and the job runs uncached, unless `strict` asks
 * for the error. Bad input (a root of another backend) is still an error.
 *
 * @param globals - backend, root, dataset, store, lease
 * @param out - where to warn
 * @param options - `strict`: throw instead of running uncached
 */
export async function openEngineForJob(
  globals: Globals,
  out: Output,
  options: { strict?: boolean } = {},
): Promise<CacheVolumes | null> {
  try {
    const engine = await openEngine(globals, { create: true });
    // What the engine got past without failing (a version whose data is gone, a removal
    // after a commit that failed) is told in the job's log.
    engine.on('warning', ({ message }) => out.warn(message));
    engine.on('transfer', (t) =>
      out.note(
        `${t.action === 'pull' ? 'pulled' : 'prefetched'} version ${t.versionId} of ${t.volume.name} from ${t.from === 'objects' ? 'the object store' : `host ${t.from}`}: ${formatSize(t.bytes)} ${t.baseId ? `relative to ${t.baseId}` : 'whole'} in ${Math.round(t.ms)} ms`,
      ),
    );
    return engine;
  } catch (error) {
    if (options.strict || !isCacheVolumeError(error) || error.code === 'INVALID_ARGUMENT') throw error;
    out.warn(`running without the cache: ${error.message}`);
    return null;
  }
}

/**
 * Like {@link openEngine}, but a root never used is `NOT_FOUND` (for commands that act on a fork).
 *
 * @param globals - backend, root, dataset, store, lease
 */
export async function requireEngine(globals: Globals): Promise<CacheVolumes> {
  const engine = await openEngine(globals, { create: false });
  if (!engine) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Nothing has been attached under ${globals.root} yet (no state.db); check --root.`,
      { details: { root: globals.root } },
    );
  }
  return engine;
}
