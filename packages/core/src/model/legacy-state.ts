import type { ForkRecord, VersionRecord, VolumeRecord, VolumeSlice } from './state.js';
import { emptySlice, volumeKeyString } from './state.js';

/**
 * The whole-state JSON document of cachevol's first release (`state.json`, written by
 * `@cachevol/store-file`): every volume and every fork in one object. Stores import it once
 * with {@link slicesFromLegacyState}.
 */
export interface LegacyStateDocument {
  /** Format version: 1. */
  schema: 1;
  /** Volumes by `scope \0 name`. */
  volumes: Record<
    string,
    Omit<VolumeRecord, 'versions'> & { versions: Record<string, Partial<VersionRecord>> }
  >;
  /** Forks by id. */
  forks: Record<string, Partial<ForkRecord> & Pick<ForkRecord, 'id' | 'scope' | 'name'>>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why a parsed `state.json` is not a {@link LegacyStateDocument}, or `null` when it is one.
 *
 * @param value - the parsed JSON
 */
export function legacyStateProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'it is not a JSON object';
  if (value.schema !== 1) {
    return typeof value.schema === 'number'
      ? `it has schema ${value.schema}, and this cachevol imports schema 1`
      : 'it has no "schema": 1 field';
  }
  if (!isRecord(value.volumes)) return '"volumes" is not an object';
  if (!isRecord(value.forks)) return '"forks" is not an object';
  for (const [key, volume] of Object.entries(value.volumes)) {
    if (!isRecord(volume) || typeof volume.scope !== 'string' || typeof volume.name !== 'string')
      return `volume ${JSON.stringify(key)} has no scope and name`;
    if (!isRecord(volume.versions)) return `volume ${JSON.stringify(key)} has no "versions" object`;
  }
  for (const [id, fork] of Object.entries(value.forks)) {
    if (!isRecord(fork) || typeof fork.scope !== 'string' || typeof fork.name !== 'string' || fork.id !== id)
      return `fork ${JSON.stringify(id)} has no id, scope and name`;
  }
  return null;
}

/**
 * Splits a first-release whole-state document into one slice per volume, filling in the fields
 * that release did not have (`versionIds` from `seq` order, `orderedAfterSeq`, `leaseUntil`,
 * `commitAfterSeq`). Every fork goes with its volume, ended ones included, so nothing is lost.
 *
 * @param doc - a document that passed {@link legacyStateProblem}
 */
export function slicesFromLegacyState(doc: LegacyStateDocument): VolumeSlice[] {
  const slices = new Map<string, VolumeSlice>();
  const sliceOf = (key: { scope: string; name: string }) => {
    const id = volumeKeyString(key);
    let slice = slices.get(id);
    if (!slice) {
      slice = emptySlice(key);
      slices.set(id, slice);
    }
    return slice;
  };
  for (const old of Object.values(doc.volumes)) {
    const versions: Record<string, VersionRecord> = {};
    for (const v of Object.values(old.versions)) {
      versions[v.id as string] = {
        ...(v as VersionRecord),
        orderedAfterSeq: v.orderedAfterSeq ?? null,
        leaseUntil: v.leaseUntil ?? null,
      };
    }
    const versionIds = Object.values(versions)
      .sort((a, b) => a.seq - b.seq)
      .map((v) => v.id);
    sliceOf(old).volume = {
      scope: old.scope,
      name: old.name,
      seq: old.seq,
      versions,
      versionIds,
      counts: old.counts ?? { hit: 0, stale: 0, miss: 0 },
      lastUsedAt: old.lastUsedAt,
    };
  }
  for (const fork of Object.values(doc.forks)) {
    const slice = sliceOf(fork);
    slice.forks[fork.id] = {
      ...(fork as ForkRecord),
      commitAfterSeq: fork.commitAfterSeq ?? (fork.state === 'committing' ? (slice.volume?.seq ?? 0) : null),
    };
  }
  return [...slices.values()];
}
