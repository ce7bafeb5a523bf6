/**
 * A copy-on-write file tree as a chain of layers: each layer records the files written
 * (`Uint8Array`) or deleted (`null`) on top of its parent. Forking is O(1): a new empty layer
 * over the version's layer. Reads walk the chain; chains are flattened when they grow deep.
 */
export interface Layer {
  /** The layer below, or `null`. */
  readonly parent: Layer | null;
  /** Changes made in this layer. */
  readonly files: Map<string, Uint8Array | null>;
  /** Number of layers below. */
  readonly depth: number;
}

/** Deepest chain kept before a commit flattens it. */
const MAX_DEPTH = 32;

/**
 * A new, empty layer on `parent`.
 *
 * @param parent - the layer below, or `null` for an empty tree
 */
export function layerOn(parent: Layer | null): Layer {
  return { parent, files: new Map(), depth: parent ? parent.depth + 1 : 0 };
}

/**
 * Reads a file through the chain.
 *
 * @param layer - the top layer
 * @param path - normalised path
 */
export function readLayer(layer: Layer | null, path: string): Uint8Array | undefined {
  for (let l = layer; l; l = l.parent) {
    const hit = l.files.get(path);
    if (hit !== undefined) return hit ?? undefined;
  }
  return undefined;
}

/**
 * Every file visible through the chain.
 *
 * @param layer - the top layer
 */
export function flatten(layer: Layer | null): Map<string, Uint8Array> {
  const chain: Layer[] = [];
  for (let l = layer; l; l = l.parent) chain.unshift(l);
  const out = new Map<string, Uint8Array>();
  for (const l of chain) {
    for (const [path, data] of l.files) {
      if (data) out.set(path, data);
      else out.delete(path);
    }
  }
  return out;
}

/**
 * Freezes a fork's layer for use as a version, flattening deep chains so reads stay fast.
 *
 * @param layer - the fork's top layer
 */
export function freeze(layer: Layer): Layer {
  if (layer.depth < MAX_DEPTH) return layer;
  return { parent: null, files: new Map(flatten(layer)), depth: 0 };
}

/**
 * Tells whether the top layer changes anything visible in its parent.
 *
 * @param layer - the fork's top layer
 */
export function changesParent(layer: Layer): boolean {
  for (const [path, data] of layer.files) {
    const before = readLayer(layer.parent, path);
    if (!data || !before) {
      if (data !== (before ?? null)) return true;
      continue;
    }
    if (before.length !== data.length || before.some((byte, i) => byte !== data[i])) return true;
  }
  return false;
}
