/**
 * Versions in the object store, the durable tier between hosts: what to upload, what to
 * download to restore a version, and which objects are no longer needed. Pure functions of a
 * volume's record, like the rest of the model; the engine does the uploads, downloads and
 * deletes.
 *
 * - **What counts.** The store, never the bucket, says what is there: an object counts only
 *   once it is recorded `present`, after its upload finished. An upload is recorded
 *   `uploading` (under a lease) before it starts, so an upload a crash cut short is found and
 *   deleted; an unneeded object is recorded `deleting` before it is deleted from the bucket, so
 *   a delete a crash cut short is done again.
 * - **Uploads: incrementals plus a periodic full.** A version's object is a differential
 *   against the newest full object of its lineage (the full of its nearest ancestor that has
 *   one) when there is one and no full is due; otherwise a full. A full is due every
 *   `fullEvery` versions (after `fullEvery - 1` differentials against the same full), or once
 *   the last differential against it is more than half its size. Formats without incrementals
 *   (`tar-zstd`) are always full.
 * - **Restores: at most two objects.** The version's full, or its differential plus the full it
 *   is against (skipped when the host holds that base version already); the smallest download
 *   wins.
 * - **Retention.** An object is needed while its version is committed, or while it is the full
 *   of a needed differential. Everything else is deleted by gc.
 * - **Temporary bases.** A restore whose differential is against a version that has no
 *   committed record any more receives that version's full under its own id as a temporary
 *   base, claimed in {@link VolumeRecord.temporaryBases} so that a crash part-way leaves
 *   something the host's reconcile finds and removes.
 */
import type { TransferFormat } from '../contracts/backend.js';
import { CacheVolumeError } from '../errors.js';
import type { ObjectCopy, TemporaryBase, VersionRecord, VolumeRecord, VolumeSlice } from './state.js';

/** How many versions of a lineage share one full object by default (one full, then 7 differentials). */
export const DEFAULT_FULL_EVERY = 8;

/**
 * Tells whether objects in a format can be differentials: `btrfs-send` and `zfs-send` can,
 * `tar-zstd` cannot (every object in it is full).
 *
 * @param format - a transfer format
 */
export function hasIncrementals(format: TransferFormat): boolean {
  return format !== 'tar-zstd';
}

function committed(volume: VolumeRecord, versionId: string): VersionRecord | undefined {
  const version = volume.versions[versionId];
  return version?.state === 'committed' ? version : undefined;
}

/**
 * The volume's present full object of `versionId` in `format` (the smallest, the first recorded
 * of equal ones, should there be several), if any; none for `null`.
 */
function presentFull(
  volume: VolumeRecord,
  versionId: string | null,
  format: TransferFormat,
): ObjectCopy | undefined {
  let best: ObjectCopy | undefined;
  for (const o of volume.objects ?? []) {
    if (o.state !== 'present' || o.versionId !== versionId || o.baseId !== null || o.format !== format)
      continue;
    if (!best || o.bytes < best.bytes) best = o;
  }
  return best;
}

/**
 * The ancestors of a version, nearest first: the versions its forks came from, by the version
 * records' `baseId`s, and past a version whose record is gone by the base of its differential
 * object (a differential's base is an ancestor).
 *
 * @param volume - the volume
 * @param versionId - the version
 */
export function objectLineage(volume: VolumeRecord, versionId: string): string[] {
  const parent = (id: string): string | null =>
    volume.versions[id]?.baseId ??
    (volume.objects ?? []).find((o) => o.versionId === id && o.baseId !== null)?.baseId ??
    null;
  const seen = [versionId];
  for (let id = parent(versionId); id !== null && !seen.includes(id); id = parent(id)) seen.push(id);
  return seen.slice(1);
}

/** What to upload for a version: see {@link planUpload}. */
export interface UploadPlan {
  /** The version. */
  versionId: string;
  /** The object's format. */
  format: TransferFormat;
  /**
   * The version whose full object the upload is a differential against, or `null` for a full
   * upload. The uploading host sends a full stream instead when it lacks that version.
   */
  baseId: string | null;
}

/**
 * What to upload for a version: a differential against the newest full object of its lineage
 * when there is one and no full is due, else a full (see the module's notes).
 *
 * @param volume - the volume
 * @param versionId - the version
 * @param format - the uploading backend's format
 * @param fullEvery - a full every this many versions of a lineage (at least 1)
 * @returns `null` when there is nothing to upload: the version is not committed, or has an
 *   object in `format` that is present or being uploaded
 */
export function planUpload(
  volume: VolumeRecord,
  versionId: string,
  format: TransferFormat,
  fullEvery: number = DEFAULT_FULL_EVERY,
): UploadPlan | null {
  if (!committed(volume, versionId)) return null;
  const objects = volume.objects ?? [];
  const has = objects.some((o) => o.versionId === versionId && o.format === format && o.state !== 'deleting');
  if (has) return null;
  const full = () => ({ versionId, format, baseId: null });
  if (!hasIncrementals(format)) return full();
  const base = objectLineage(volume, versionId)
    .map((id) => presentFull(volume, id, format))
    .find((o) => o !== undefined);
  if (!base) return full();
  const diffs = objects.filter(
    (o) => o.state === 'present' && o.baseId === base.versionId && o.format === format,
  );
  if (diffs.length >= fullEvery - 1) return full();
  const last = diffs.at(-1);
  if (last && last.bytes * 2 > base.bytes) return full();
  return { versionId, format, baseId: base.versionId };
}

/** Replaces the slice's volume's objects (callers checked that the volume exists). */
function withObjects(slice: VolumeSlice, objects: ObjectCopy[]): VolumeSlice {
  const { objects: _, ...volume } = slice.volume as VolumeRecord;
  return { ...slice, volume: objects.length === 0 ? volume : { ...volume, objects } };
}

/** The new upload of {@link beginUpload}. */
export interface NewUpload {
  /** The object's key (unique). */
  key: string;
  /** The version. */
  versionId: string;
  /** The object's format. */
  format: TransferFormat;
  /**
   * The version whose full object the upload is planned against ({@link UploadPlan.baseId}),
   * or `null`: that full is needed while the upload runs, so gc leaves it.
   */
  baseId: string | null;
}

/**
 * Records an upload before it starts: an `uploading` object under a lease, which counts for
 * nothing until {@link completeUpload}, and which gc deletes once the lease ended.
 *
 * @param slice - the version's volume
 * @param upload - key, version and format
 * @param leaseUntil - when the upload's lease ends
 * @throws `NOT_FOUND` when the version is not committed; `ALREADY_EXISTS` for a key in use
 */
export function beginUpload(slice: VolumeSlice, upload: NewUpload, leaseUntil: number): VolumeSlice {
  const volume = slice.volume;
  if (!volume || !committed(volume, upload.versionId)) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Version "${upload.versionId}" of volume "${slice.name}" (scope "${slice.scope}") is gone or being removed: there is nothing to upload.`,
      { details: { versionId: upload.versionId } },
    );
  }
  const objects = volume.objects ?? [];
  if (objects.some((o) => o.key === upload.key)) {
    throw new CacheVolumeError('ALREADY_EXISTS', `Object key "${upload.key}" is in use already.`, {
      details: { key: upload.key },
    });
  }
  const copy: ObjectCopy = {
    key: upload.key,
    versionId: upload.versionId,
    baseId: upload.baseId,
    format: upload.format,
    bytes: 0,
    sha256: '',
    state: 'uploading',
    leaseUntil,
  };
  return withObjects(slice, [...objects, copy]);
}

/** Replaces the object `key` (when it exists and `when` holds) with what `change` makes of it. */
function changeObject(
  slice: VolumeSlice,
  key: string,
  when: (o: ObjectCopy) => boolean,
  change: (o: ObjectCopy) => ObjectCopy,
): { slice: VolumeSlice; changed: boolean } {
  const objects = slice.volume?.objects ?? [];
  const at = objects.findIndex((o) => o.key === key && when(o));
  if (at < 0) return { slice, changed: false };
  const next = [...objects];
  next[at] = change(objects[at] as ObjectCopy);
  return { slice: withObjects(slice, next), changed: true };
}

const isUploading = (o: ObjectCopy) => o.state === 'uploading';

/** Drops the lease of an object that leaves `uploading`. */
function settled(o: ObjectCopy, change: Partial<ObjectCopy>): ObjectCopy {
  const { leaseUntil: _, ...rest } = o;
  return { ...rest, ...change };
}

/**
 * Records an upload that finished: the object is `present` from now on, with what was stored.
 *
 * @param slice - the volume
 * @param key - the object's key
 * @param stored - the base the stream turned out to be against (`null`: full), its size and sha256
 * @returns the slice, and `kept: false` (the slice unchanged) when the upload's record is no
 *   longer `uploading` (its lease ran out and gc took it): the object is to be deleted then
 */
export function completeUpload(
  slice: VolumeSlice,
  key: string,
  stored: { baseId: string | null; bytes: number; sha256: string },
): { slice: VolumeSlice; kept: boolean } {
  const done = changeObject(slice, key, isUploading, (o) => settled(o, { ...stored, state: 'present' }));
  return { slice: done.slice, kept: done.changed };
}

/**
 * Records an upload that failed: the object is `deleting` (the bucket may hold part of it),
 * and gc deletes it. Nothing changes when the record is no longer `uploading`.
 *
 * @param slice - the volume
 * @param key - the object's key
 */
export function failUpload(slice: VolumeSlice, key: string): VolumeSlice {
  return changeObject(slice, key, isUploading, (o) => settled(o, { state: 'deleting' })).slice;
}

/**
 * Extends the lease of an upload that is still running. Nothing changes otherwise.
 *
 * @param slice - the volume
 * @param key - the object's key
 * @param leaseUntil - the new lease end
 */
export function renewUpload(slice: VolumeSlice, key: string, leaseUntil: number): VolumeSlice {
  return changeObject(slice, key, isUploading, (o) => ({ ...o, leaseUntil })).slice;
}

/**
 * The keys of the objects that are needed: present objects of committed versions, uploads
 * whose lease has not ended, and the full objects that those of them that are differentials
 * are (or are planned to be) against.
 *
 * @param volume - the volume
 * @param now - the time (ms since epoch)
 */
export function neededObjects(volume: VolumeRecord, now: number): Set<string> {
  const objects = volume.objects ?? [];
  const needed = new Set<string>();
  for (const o of objects) {
    const live = o.state === 'uploading' && (o.leaseUntil ?? 0) > now;
    if (!live && (o.state !== 'present' || !committed(volume, o.versionId))) continue;
    needed.add(o.key);
    const base = presentFull(volume, o.baseId, o.format);
    if (base) needed.add(base.key);
  }
  return needed;
}

/**
 * The objects gc deletes: those not {@link neededObjects | needed} (including uploads whose
 * lease ran out), and those being deleted already (a delete a crash cut short), in the order
 * recorded.
 *
 * @param volume - the volume
 * @param now - the time (ms since epoch)
 */
export function unneededObjects(volume: VolumeRecord, now: number): ObjectCopy[] {
  const needed = neededObjects(volume, now);
  return (volume.objects ?? []).filter((o) => !needed.has(o.key));
}

/**
 * Marks every unneeded object `deleting` (see {@link unneededObjects}), before the engine
 * deletes them from the bucket.
 *
 * @param slice - the volume
 * @param now - the time (ms since epoch)
 * @returns the slice, and the keys to delete
 */
export function beginDeleteObjects(slice: VolumeSlice, now: number): { slice: VolumeSlice; keys: string[] } {
  if (!slice.volume) return { slice, keys: [] };
  const doomed = new Set(unneededObjects(slice.volume, now).map((o) => o.key));
  if (doomed.size === 0) return { slice, keys: [] };
  const objects = (slice.volume.objects ?? []).map((o) =>
    doomed.has(o.key) ? settled(o, { state: 'deleting' }) : o,
  );
  return { slice: withObjects(slice, objects), keys: [...doomed] };
}

/**
 * Drops the records of objects deleted from the bucket (those of `keys` that are `deleting`).
 *
 * @param slice - the volume
 * @param keys - the keys deleted
 */
export function completeDeleteObjects(slice: VolumeSlice, keys: readonly string[]): VolumeSlice {
  if (!slice.volume?.objects) return slice;
  const gone = new Set(keys);
  return withObjects(
    slice,
    slice.volume.objects.filter((o) => !(o.state === 'deleting' && gone.has(o.key))),
  );
}

/** The full object a restore receives first: see {@link RestorePlan}. */
export interface RestoreBase {
  /** The full object of the version the differential is against. */
  object: ObjectCopy;
  /**
   * `true` when that version has no committed record: it is received as a temporary base and
   * removed once the differential arrived. `false`: it is received as a copy of the version,
   * which the host keeps.
   */
  temporary: boolean;
}

/** How to restore a version from the object store: at most two objects. */
export interface RestorePlan {
  /** The version's object: a full, or a differential. */
  object: ObjectCopy;
  /**
   * For a differential against a version the host does not hold: that version's full object,
   * received first. `null` otherwise.
   */
  base: RestoreBase | null;
  /** The bytes to download. */
  bytes: number;
}

/**
 * How a host restores a version from the object store: the version's full, or its differential
 * plus the full it is against (skipped when the host holds that base version as a committed
 * copy), in formats the host's backend reads; the smallest download of those (the fewest
 * objects when they tie, then the first recorded).
 *
 * @param volume - the volume
 * @param versionId - the version
 * @param host - the restoring host
 * @param formats - the formats the host's backend reads
 * @returns `null` when it cannot be restored: the version is not committed, or it has no
 *   present object in those formats (or only a differential whose full is gone)
 */
export function restorePlan(
  volume: VolumeRecord,
  versionId: string,
  host: string,
  formats: readonly TransferFormat[],
): RestorePlan | null {
  if (!committed(volume, versionId)) return null;
  let best: RestorePlan | null = null;
  const count = (plan: RestorePlan) => (plan.base ? 2 : 1);
  for (const object of volume.objects ?? []) {
    if (object.state !== 'present' || object.versionId !== versionId || !formats.includes(object.format))
      continue;
    let plan: RestorePlan | null = { object, base: null, bytes: object.bytes };
    if (object.baseId !== null && !committed(volume, object.baseId)?.hosts.includes(host)) {
      const full = presentFull(volume, object.baseId, object.format);
      const temporary = !committed(volume, object.baseId);
      plan = full ? { object, base: { object: full, temporary }, bytes: object.bytes + full.bytes } : null;
    }
    if (!plan) continue;
    if (!best || plan.bytes < best.bytes || (plan.bytes === best.bytes && count(plan) < count(best)))
      best = plan;
  }
  return best;
}

/** Replaces the slice's volume's temporary bases (callers checked that the volume exists). */
function withTemporaryBases(slice: VolumeSlice, bases: TemporaryBase[]): VolumeSlice {
  const { temporaryBases: _, ...volume } = slice.volume as VolumeRecord;
  return { ...slice, volume: bases.length === 0 ? volume : { ...volume, temporaryBases: bases } };
}

const sameBase = (host: string, versionId: string) => (b: TemporaryBase) =>
  b.host === host && b.versionId === versionId;

/**
 * Claims the receive of a temporary base by a host, until `until` (an earlier claim of it by
 * the host that has ended is replaced).
 *
 * @param slice - the volume
 * @param host - the restoring host
 * @param versionId - the base's version id
 * @param now - the time (ms since epoch)
 * @param until - when the claim ends
 * @throws `NOT_FOUND` when the volume has no record; `CONFLICT` while the host's earlier claim
 *   of it lasts
 */
export function beginTemporaryBase(
  slice: VolumeSlice,
  host: string,
  versionId: string,
  now: number,
  until: number,
): VolumeSlice {
  const volume = slice.volume;
  if (!volume) {
    throw new CacheVolumeError('NOT_FOUND', `No volume "${slice.name}" in scope "${slice.scope}".`, {
      details: { scope: slice.scope, name: slice.name },
    });
  }
  const bases = volume.temporaryBases ?? [];
  const earlier = bases.find(sameBase(host, versionId));
  if (earlier && earlier.until > now) {
    throw new CacheVolumeError(
      'CONFLICT',
      `Host "${host}" is receiving version "${versionId}" as a temporary base already (its claim ends at ${new Date(earlier.until).toISOString()}).`,
      { details: { versionId, host, claimUntil: earlier.until } },
    );
  }
  const others = bases.filter((b) => !sameBase(host, versionId)(b));
  return withTemporaryBases(slice, [...others, { host, versionId, until }]);
}

/**
 * Drops a host's claim of a temporary base once its copy was removed. Nothing changes when the
 * claim is not that one (there is none, or a clean-up took it over).
 *
 * @param slice - the volume
 * @param host - the host
 * @param versionId - the base's version id
 * @param until - the end of the claim to drop
 */
export function endTemporaryBase(
  slice: VolumeSlice,
  host: string,
  versionId: string,
  until: number,
): VolumeSlice {
  const bases = slice.volume?.temporaryBases;
  if (!bases?.some((b) => sameBase(host, versionId)(b) && b.until === until)) return slice;
  return withTemporaryBases(
    slice,
    bases.filter((b) => !sameBase(host, versionId)(b)),
  );
}

/**
 * The temporary bases of `host` whose claim ended: a crash cut their restore short, and what
 * the host's backend holds of them is to be removed (under a claim of its own, see
 * {@link takeOverTemporaryBase}) before the claim is dropped.
 *
 * @param slice - the volume
 * @param host - the host
 * @param now - the time (ms since epoch)
 */
export function expiredTemporaryBases(slice: VolumeSlice, host: string, now: number): string[] {
  return (slice.volume?.temporaryBases ?? [])
    .filter((b) => b.host === host && b.until <= now)
    .map((b) => b.versionId);
}

/**
 * Takes over a host's claim of a temporary base that ended, for the clean-up that removes the
 * copy: the claim gets the new end `until`, so the restore that made it cannot drop it.
 *
 * @param slice - the volume
 * @param host - the host
 * @param versionId - the base's version id
 * @param now - the time (ms since epoch)
 * @param until - the clean-up's claim end
 * @returns the slice with the claim taken over, or `undefined` when there is no such claim
 */
export function takeOverTemporaryBase(
  slice: VolumeSlice,
  host: string,
  versionId: string,
  now: number,
  until: number,
): VolumeSlice | undefined {
  if (!expiredTemporaryBases(slice, host, now).includes(versionId)) return undefined;
  const bases = (slice.volume as VolumeRecord).temporaryBases as TemporaryBase[];
  return withTemporaryBases(
    slice,
    bases.map((b) => (sameBase(host, versionId)(b) ? { ...b, until } : b)),
  );
}
