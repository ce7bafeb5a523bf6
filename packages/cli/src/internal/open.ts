import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirBackend } from '@cachevol/backend-dir';
import { type Backend, CacheVolumeError, CacheVolumes } from '@cachevol/core';
import { createFileStore } from '@cachevol/store-file';
import type { Globals } from './globals.js';

/** Where things live under `--root`. */
export function rootLayout(root: string) {
  return {
    /** The state store's file. */
    state: join(root, 'state.json'),
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

async function importBackend(kind: Globals['backend'], globals: Globals, data: string): Promise<Backend> {
  const unavailable = (pkg: string, cause: unknown) =>
    new CacheVolumeError(
      'BACKEND_UNAVAILABLE',
      `--backend ${kind} needs the package ${pkg} (npm install ${pkg}); it could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  switch (kind) {
    case 'dir':
      return createDirBackend({ root: data });
    case 'btrfs': {
      await mkdir(data, { recursive: true });
      const mod = await import('@cachevol/backend-btrfs').catch((e: unknown) => {
        throw unavailable('@cachevol/backend-btrfs', e);
      });
      return mod.createBtrfsBackend({ root: data });
    }
    case 'zfs': {
      const mod = await import('@cachevol/backend-zfs').catch((e: unknown) => {
        throw unavailable('@cachevol/backend-zfs', e);
      });
      return mod.createZfsBackend({ dataset: globals.dataset as string });
    }
    case 'sparsebundle': {
      await mkdir(data, { recursive: true });
      const mod = await import('@cachevol/backend-sparsebundle').catch((e: unknown) => {
        throw unavailable('@cachevol/backend-sparsebundle', e);
      });
      return mod.createSparseBundleBackend({ root: data });
    }
  }
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

/**
 * Opens the engine over the root's store and backend.
 *
 * @param globals - backend, root, dataset, lease
 * @param create - make the root when missing (commands that attach); otherwise a missing root
 *   gives `null` (nothing has been cached there yet)
 */
export async function openEngine(globals: Globals, create: true): Promise<CacheVolumes>;
export async function openEngine(globals: Globals, create: boolean): Promise<CacheVolumes | null>;
export async function openEngine(globals: Globals, create: boolean): Promise<CacheVolumes | null> {
  const layout = rootLayout(globals.root);
  if (!create && !existsSync(layout.state)) return null;
  await checkMarker(globals, create);
  const backend = await importBackend(globals.backend, globals, layout.data);
  const store = createFileStore({ path: layout.state });
  return new CacheVolumes({ backend, store, ...(globals.leaseMs ? { leaseMs: globals.leaseMs } : {}) });
}

/**
 * Like {@link openEngine}, but a missing root is `NOT_FOUND` (for commands that act on a fork).
 *
 * @param globals - backend, root, dataset, lease
 */
export async function requireEngine(globals: Globals): Promise<CacheVolumes> {
  const engine = await openEngine(globals, false);
  if (!engine) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Nothing has been attached under ${globals.root} yet (no state.json); check --root.`,
      {
        details: { root: globals.root },
      },
    );
  }
  return engine;
}
