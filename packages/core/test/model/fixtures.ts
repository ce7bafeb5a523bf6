import type { ForkRecord, VersionRecord, VolumeRecord, VolumeSlice } from '../../src/model/state.js';

/**
 * Small hand-made records for the rule tests: each test states only the fields its rule reads.
 * Imports the model modules directly (not the package index), so a mutation run loads little.
 */

/** A fixed time, in ms since epoch. */
export const T0 = 1_750_000_000_000;
export const SCOPE = 's';
export const NAME = 'vol';

/** A committed version `id` with `seq`, committed and last used at `T0`, on host `h`. */
export function version(id: string, seq: number, overrides: Partial<VersionRecord> = {}): VersionRecord {
  return {
    id,
    seq,
    baseId: null,
    usedBytes: 10,
    committedAt: T0,
    lastUsedAt: T0,
    hosts: ['h'],
    state: 'committed',
    orderedAfterSeq: null,
    leaseUntil: null,
    ...overrides,
  };
}

/** An attached fork `id` of the volume, based on `baseId`, whose lease ends at `T0 + 1000`. */
export function fork(id: string, overrides: Partial<ForkRecord> = {}): ForkRecord {
  return {
    id,
    scope: SCOPE,
    name: NAME,
    baseId: null,
    result: 'miss',
    requestedBytes: 100,
    capacityBytes: 100,
    host: 'h',
    job: 'j',
    commitMode: 'on-success',
    createdAt: T0,
    expiresAt: T0 + 1000,
    mountPath: `/m/${id}`,
    state: 'attached',
    versionId: null,
    commitAfterSeq: null,
    endedAt: null,
    ...overrides,
  };
}

/** A volume record holding `versions` in the order given (which must be head order). */
export function volumeOf(versions: VersionRecord[], overrides: Partial<VolumeRecord> = {}): VolumeRecord {
  return {
    scope: SCOPE,
    name: NAME,
    seq: versions.reduce((max, v) => Math.max(max, v.seq), 0),
    versions: Object.fromEntries(versions.map((v) => [v.id, v])),
    versionIds: versions.map((v) => v.id),
    counts: { hit: 0, stale: 0, miss: 0 },
    lastUsedAt: T0,
    ...overrides,
  };
}

/** A slice of volume `NAME` in scope `SCOPE` with the given versions (or no record) and forks. */
export function sliceOf(
  versions: VersionRecord[] | null,
  forks: ForkRecord[] = [],
  volume: Partial<VolumeRecord> = {},
): VolumeSlice {
  return {
    scope: SCOPE,
    name: NAME,
    volume: versions === null ? null : volumeOf(versions, volume),
    forks: Object.fromEntries(forks.map((f) => [f.id, f])),
  };
}

/** Runs `fn` and returns what it threw (or fails when it did not throw). */
export function thrown(fn: () => unknown): {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
} {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected it to throw');
}
