import {
  type Backend,
  type BackendCapabilities,
  type BackendEntry,
  type ForkMount,
  type ForkOptions,
  type Usage,
  validateId,
} from '@cachevol/core';
import { defineBackend, notFound, versionExists } from '@cachevol/core/backend-kit';
import { changesParent, freeze, type Layer, layerOn } from './internal/layer.js';
import { type ReadableTree, readableTree, sizeOf, type WritableTree, writableTree } from './memory-tree.js';

/** Options for {@link createMemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Enforce fork capacity on writes (`CAPACITY_EXCEEDED`).
   * @defaultValue true
   */
  enforceCapacity?: boolean;
  /**
   * A label used in mount URIs (`memory://<label>/forks/<id>`).
   * @defaultValue `"memory"`
   */
  label?: string;
}

/** The memory backend: a {@link Backend} plus direct access to the file trees, for tests. */
export interface MemoryBackend extends Backend {
  /** Always `"memory"`. */
  readonly name: 'memory';
  /**
   * The writable file tree of a live fork.
   * @param fork - a fork id, a mount URI, or anything with an `id` (such as a `ForkHandle`)
   * @throws `NOT_FOUND` when the fork does not exist (any more)
   */
  files(fork: string | { id: string }): WritableTree;
  /**
   * The read-only file tree of a version.
   * @param versionId - the version
   * @throws `NOT_FOUND` when the version does not exist
   */
  versionFiles(versionId: string): ReadableTree;
}

interface ForkEntry {
  layer: Layer;
  capacityBytes: number;
}

const CAPABILITIES: BackendCapabilities = Object.freeze({
  copyOnWrite: true,
  constantTime: true,
  quota: true,
  transfer: false,
  changeDetection: true,
});

/**
 * Creates an in-process, copy-on-write backend: forks are O(1) layers over their version, so
 * isolation is observable through {@link MemoryBackend.files}. The reference backend for
 * property tests.
 *
 * @param options - capacity enforcement and label
 *
 * @example
 * ```ts
 * const backend = createMemoryBackend()
 * const volumes = new CacheVolumes({ backend, store: createMemoryStore() })
 * const fork = await volumes.attach('deps')
 * backend.files(fork).write('node_modules/.keep', '')
 * ```
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  const enforce = options.enforceCapacity ?? true;
  const label = options.label ?? 'memory';
  const forks = new Map<string, ForkEntry>();
  const versions = new Map<string, Layer>();
  const prefix = `memory://${label}/forks/`;

  const mount = (forkId: string): ForkMount => ({ mountPath: `${prefix}${forkId}` });
  const forkEntry = (id: string): ForkEntry => forks.get(id) ?? notFound('memory', 'fork', id);
  const versionLayer = (id: string): Layer => versions.get(id) ?? notFound('memory', 'version', id);
  const addFork = (forkId: string, parent: Layer | null, opts: ForkOptions): ForkMount => {
    if (!forks.has(forkId)) forks.set(forkId, { layer: layerOn(parent), capacityBytes: opts.capacityBytes });
    return mount(forkId);
  };

  // Ids and capacities are checked by defineBackend before any of these run.
  return defineBackend<MemoryBackend>({
    name: 'memory',
    capabilities: CAPABILITIES,
    async createFork(forkId, opts) {
      return addFork(forkId, null, opts);
    },
    async forkVersion(forkId, versionId, opts) {
      if (forks.has(forkId)) return mount(forkId);
      return addFork(forkId, versionLayer(versionId), opts);
    },
    async commitFork(forkId, versionId): Promise<Usage> {
      const fork = forks.get(forkId);
      if (!fork) return { usedBytes: sizeOf(versionLayer(versionId)) };
      // A commit here is atomic, so a version that exists beside the fork is another fork's.
      if (versions.has(versionId)) versionExists(forkId, versionId);
      const layer = freeze(fork.layer);
      versions.set(versionId, layer);
      forks.delete(forkId);
      return { usedBytes: sizeOf(layer) };
    },
    async discardFork(forkId) {
      forks.delete(forkId);
    },
    async removeVersion(versionId) {
      versions.delete(versionId);
    },
    async usage(kind, id): Promise<Usage> {
      return { usedBytes: sizeOf(kind === 'fork' ? forkEntry(id).layer : versionLayer(id)) };
    },
    async list(): Promise<BackendEntry[]> {
      return [
        ...[...forks.keys()].map((id) => ({ kind: 'fork' as const, id })),
        ...[...versions.keys()].map((id) => ({ kind: 'version' as const, id })),
      ];
    },
    async hasChanges(forkId) {
      return changesParent(forkEntry(forkId).layer);
    },
    // Not part of the Backend contract, so not checked by defineBackend: they check their ids.
    files(fork) {
      const raw = typeof fork === 'string' ? fork : fork.id;
      const id = validateId(raw.startsWith(prefix) ? raw.slice(prefix.length) : raw, 'fork id');
      forkEntry(id);
      return writableTree(
        () => forkEntry(id).layer,
        () => (enforce ? forkEntry(id).capacityBytes : Number.POSITIVE_INFINITY),
      );
    },
    versionFiles(versionId) {
      versionLayer(validateId(versionId, 'version id'));
      return readableTree(() => versionLayer(versionId));
    },
  });
}
