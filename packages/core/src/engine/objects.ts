import { createHash, randomBytes } from 'node:crypto';
import type { TransferFormat } from '../contracts/backend.js';
import type { ObjectStore } from '../contracts/object-store.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import {
  beginDeleteObjects,
  beginTemporaryBase,
  beginUpload,
  completeDeleteObjects,
  completeUpload,
  endTemporaryBase,
  expiredTemporaryBases,
  failUpload,
  planUpload,
  renewUpload,
  restorePlan,
  takeOverTemporaryBase,
  unneededObjects,
} from '../model/objects.js';
import type { ObjectCopy, VersionRecord, VolumeKey, VolumeRecord, VolumeSlice } from '../model/state.js';
import type { EngineContext } from './context.js';
import type { ReconcileReport } from './reports.js';
import { type PullReport, pullVersion, type VersionSource } from './transfer.js';

/**
 * The object store tier: uploads of committed versions to an {@link ObjectStore} (incrementals
 * plus a periodic full), restores of versions a host lacks from it, and the deletion of objects
 * that are no longer needed. The store records every object (see `model/objects.ts`); the
 * bucket only holds bytes.
 */

/** The object store tier as the engine runs it (`CacheVolumesOptions.objects`, parsed). */
export interface ObjectTier {
  /** Where objects go. */
  store: ObjectStore;
  /** A full object every this many versions of a lineage. */
  fullEvery: number;
  /** The format of uploads; default: the backend's own. */
  format?: TransferFormat | undefined;
}

/** What {@link CacheVolumes.upload} did. */
export interface UploadReport {
  /** The version. */
  versionId: string;
  /** `false` when the version had an object in the backend's format already (nothing was uploaded). */
  uploaded: boolean;
  /** The new object, when one was uploaded. */
  object: ObjectCopy | null;
}

/** What {@link CacheVolumes.restore} did. */
export interface RestoreReport extends PullReport {
  /** The objects downloaded (the base's full first, when there was one), by key. */
  objects: string[];
  /**
   * The version whose full object was received first, for a differential against a version
   * this host did not hold: `temporary` when that version has no committed record any more (it
   * was removed again once the differential arrived). `null` otherwise.
   */
  base: { versionId: string; temporary: boolean } | null;
}

function cannot(what: string, ctx: Pick<EngineContext, 'backend'>): never {
  throw new CacheVolumeError(
    'BACKEND_UNAVAILABLE',
    `The ${ctx.backend.name} backend cannot ${what} versions (its \`transfer\` capability is off), so it cannot use an object store.`,
    { details: { backend: ctx.backend.name } },
  );
}

function held(volume: VolumeRecord | null, versionId: string, host: string): VersionRecord | undefined {
  const version = volume?.versions[versionId];
  return version?.state === 'committed' && version.hosts.includes(host) ? version : undefined;
}

/** The object's key: `<scope>/<name>/<versionId>/<random>.<format>` (unique, written once). */
function objectKey(key: VolumeKey, versionId: string, format: TransferFormat): string {
  return `${key.scope}/${key.name}/${versionId}/${randomBytes(8).toString('hex')}.${format}`;
}

/**
 * Uploads a version this host holds to the object store: records the upload (planned as a
 * differential against the newest full of its lineage, or a full; see `planUpload`), streams
 * the backend's `sendVersion` into the store (relative to that full's version when this host
 * holds it, else whole), and records the object `present` with its size and sha256. A failed
 * upload is recorded `deleting`, and what the bucket got of it is deleted (by gc when that
 * fails too).
 *
 * @param ctx - the engine
 * @param tier - the object store tier
 * @param host - this engine's host
 * @param key - the volume
 * @param versionId - the version
 * @throws `NOT_FOUND` when this host holds no copy of the version; `BACKEND_UNAVAILABLE`
 *   when the backend cannot send; the backend's and the object store's failures
 */
export async function uploadVersion(
  ctx: EngineContext,
  tier: ObjectTier,
  host: string,
  key: VolumeKey,
  versionId: string,
): Promise<UploadReport> {
  const { backend } = ctx;
  const format = tier.format ?? backend.transferFormats?.[0];
  if (!backend.capabilities.transfer || !backend.sendVersion || !format) return cannot('send', ctx);
  if (!backend.transferFormats?.includes(format)) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `objects.format is ${format}; the ${backend.name} backend writes ${(backend.transferFormats ?? []).join(', ')}.`,
      { details: { format } },
    );
  }
  const sendVersion = backend.sendVersion.bind(backend);
  const begun = await ctx.store.transact(key, (slice) => {
    if (!held(slice.volume, versionId, host)) {
      throw new CacheVolumeError(
        'NOT_FOUND',
        `Host "${host}" holds no copy of version "${versionId}" of volume "${key.name}" (scope "${key.scope}") to upload.`,
        { details: { ...key, versionId, host } },
      );
    }
    const plan = planUpload(slice.volume as VolumeRecord, versionId, format, tier.fullEvery);
    if (!plan) return { slice, result: null };
    const upload = { key: objectKey(key, versionId, format), versionId, format, baseId: plan.baseId };
    // Relative to the full's version only when this host holds it; else the stream is whole.
    const sendBase = plan.baseId && held(slice.volume, plan.baseId, host) ? plan.baseId : undefined;
    return {
      slice: beginUpload(slice, upload, ctx.clock() + ctx.leaseMs),
      result: { objectKey: upload.key, sendBase },
    };
  });
  if (!begun) return { versionId, uploaded: false, object: null };
  const { objectKey: name, sendBase } = begun;
  const renew = setInterval(
    () => {
      const until = ctx.clock() + ctx.leaseMs;
      ctx.store
        .transact(key, (slice) => ({ slice: renewUpload(slice, name, until), result: undefined }))
        .catch(() => undefined);
    },
    Math.max(50, Math.floor(ctx.leaseMs / 3)),
  );
  renew.unref?.();
  let stored: { baseId: string | null; bytes: number; sha256: string };
  try {
    stored = await ctx.queues.backend(async () => {
      const sent = await sendVersion(versionId, { format, ...(sendBase ? { baseId: sendBase } : {}) });
      const hash = createHash('sha256');
      let bytes = 0;
      async function* hashed(): AsyncGenerator<Uint8Array> {
        for await (const chunk of sent.stream) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      }
      await tier.store.put(name, hashed());
      return { baseId: sent.baseId, bytes, sha256: hash.digest('hex') };
    });
  } catch (error) {
    clearInterval(renew);
    await ctx.store
      .transact(key, (slice) => ({ slice: failUpload(slice, name), result: undefined }))
      .then(() => deleteObjects(ctx, tier, key, [name]))
      .catch(() => undefined); // the upload's lease runs out, and gc deletes it
    throw error;
  }
  clearInterval(renew);
  const done = await ctx.store.transact(key, (slice) => {
    const outcome = completeUpload(slice, name, stored);
    const object = outcome.slice.volume?.objects?.find((o) => o.key === name) ?? null;
    return { slice: outcome.slice, result: outcome.kept ? object : null };
  });
  if (!done) {
    throw new CacheVolumeError(
      'CONFLICT',
      `The upload of version "${versionId}" to ${tier.store.name} outlasted its lease, and gc took it over; the object is not recorded and will be deleted.`,
      { details: { ...key, versionId, key: name } },
    );
  }
  return { versionId, uploaded: true, object: done };
}

/** Deletes objects recorded `deleting` from the bucket, then their records. */
async function deleteObjects(
  ctx: EngineContext,
  tier: ObjectTier,
  key: VolumeKey,
  keys: readonly string[],
): Promise<void> {
  await tier.store.delete(keys);
  await ctx.store.transact(key, (slice) => ({
    slice: completeDeleteObjects(slice, keys),
    result: undefined,
  }));
}

/**
 * Deletes the objects of a volume that are no longer needed (see `unneededObjects`): marks
 * them `deleting`, deletes them from the bucket, drops their records. An object marked
 * `deleting` whose delete a crash cut short is deleted again the next time.
 *
 * @param ctx - the engine
 * @param tier - the object store tier
 * @param key - the volume
 * @returns the keys deleted
 */
export async function deleteUnneededObjects(
  ctx: EngineContext,
  tier: ObjectTier,
  key: VolumeKey,
): Promise<string[]> {
  const now = ctx.clock();
  const keys = await ctx.store.transact(key, (slice) => {
    const begun = beginDeleteObjects(slice, now);
    return { slice: begun.slice, result: begun.keys };
  });
  if (keys.length > 0) await deleteObjects(ctx, tier, key, keys);
  return keys;
}

/**
 * Whether a volume's slice has objects that {@link deleteUnneededObjects} would delete now.
 *
 * @param slice - a volume's slice, as read
 * @param now - the time (ms since epoch)
 */
export function hasUnneededObjects(slice: VolumeSlice, now: number): boolean {
  return slice.volume !== null && unneededObjects(slice.volume, now).length > 0;
}

/** A source that serves one object as the version's stream, with the digest the store recorded. */
function objectSource(tier: ObjectTier, object: ObjectCopy): VersionSource {
  return {
    async open(request) {
      if (!request.formats.includes(object.format)) {
        throw new CacheVolumeError(
          'INVALID_ARGUMENT',
          `Object "${object.key}" is in ${object.format}; the receiving backend reads ${request.formats.join(', ')}.`,
          { details: { key: object.key, format: object.format } },
        );
      }
      const stream = await tier.store.get(object.key);
      return { format: object.format, baseId: object.baseId, stream, sha256: Promise.resolve(object.sha256) };
    },
  };
}

/**
 * Restores a version this host lacks from the object store, following `restorePlan`: its full
 * object, or its differential after the full it is against. That full is received as a copy of
 * its version (which this host then keeps) while the version is committed, and otherwise as a
 * temporary base: claimed in the store, removed once the differential arrived (and by
 * `reconcile()` after a crash). Each object goes through the claimed receive of `pull`, and the
 * backend checks the sha256 the store recorded, so a corrupt object leaves nothing.
 *
 * @param ctx - the engine
 * @param tier - the object store tier
 * @param host - this engine's host
 * @param key - the volume
 * @param versionId - the version
 * @throws `NOT_FOUND` when the version is not committed, or has no object this host's backend
 *   reads; `CONFLICT` while this host receives it already; the object store's and the
 *   backend's failures
 */
export async function restoreVersion(
  ctx: EngineContext,
  tier: ObjectTier,
  host: string,
  key: VolumeKey,
  versionId: string,
): Promise<RestoreReport> {
  const { backend } = ctx;
  const formats = backend.transferFormats ?? [];
  if (!backend.capabilities.transfer || !backend.receiveVersion) return cannot('receive', ctx);
  const receiveVersion = backend.receiveVersion.bind(backend);
  const volume = (await ctx.store.read(key)).volume;
  const nothing = {
    versionId,
    received: false,
    format: null,
    baseId: null,
    bytes: 0,
    objects: [],
    base: null,
  };
  if (held(volume, versionId, host)) return nothing;
  const plan = volume ? restorePlan(volume, versionId, host, formats) : null;
  if (!plan) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Version "${versionId}" of volume "${key.name}" (scope "${key.scope}") has no object in ${tier.store.name} that the ${backend.name} backend reads (${formats.join(', ') || 'no format'}): it was not uploaded (see upload()), or is gone.`,
      { details: { ...key, versionId, store: tier.store.name } },
    );
  }
  const restore = () => pullVersion(ctx, host, key, versionId, objectSource(tier, plan.object));
  const base = plan.base;
  if (!base) return { ...(await restore()), objects: [plan.object.key], base: null };
  const baseId = base.object.versionId;
  const objects = [base.object.key, plan.object.key];
  if (!base.temporary) {
    const first = await pullVersion(ctx, host, key, baseId, objectSource(tier, base.object));
    const report = await restore();
    return {
      ...report,
      bytes: report.bytes + first.bytes,
      objects,
      base: { versionId: baseId, temporary: false },
    };
  }
  const until = ctx.clock() + ctx.leaseMs;
  await ctx.store.transact(key, (slice) => ({
    slice: beginTemporaryBase(slice, host, baseId, ctx.clock(), until),
    result: undefined,
  }));
  let baseBytes = 0;
  try {
    await ctx.queues.backend(async () => {
      const stream = await tier.store.get(base.object.key);
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of stream) {
          baseBytes += chunk.length;
          yield chunk;
        }
      }
      await receiveVersion(baseId, counted(), {
        format: base.object.format,
        baseId: null,
        sha256: base.object.sha256,
      });
    });
    const report = await restore();
    return {
      ...report,
      bytes: report.bytes + baseBytes,
      objects,
      base: { versionId: baseId, temporary: true },
    };
  } finally {
    // The temporary base goes; when its removal fails, the claim stays for reconcile().
    try {
      await ctx.queues.backend(() => backend.removeVersion(baseId));
      await ctx.store.transact(key, (slice) => ({
        slice: endTemporaryBase(slice, host, baseId, until),
        result: undefined,
      }));
    } catch (error) {
      ctx.events.emit('warning', {
        message: `Could not remove the temporary base "${baseId}" of a restore of volume "${key.name}" (scope "${key.scope}"); reconcile() removes it once its claim ends: ${String(error)}`,
        error: isCacheVolumeError(error)
          ? error
          : new CacheVolumeError('BACKEND_FAILED', String(error), { cause: error }),
      });
    }
  }
}

/** One version of one volume. */
export interface VersionAt {
  key: VolumeKey;
  versionId: string;
}

/**
 * The temporary bases of this host in one volume's slice whose claim ended (a crash cut their
 * restore short).
 *
 * @param slice - a volume's slice, as read
 * @param host - this engine's host
 * @param now - the time (ms since epoch)
 */
export function cutTemporaryBases(slice: VolumeSlice, host: string, now: number): VersionAt[] {
  const key = { scope: slice.scope, name: slice.name };
  return expiredTemporaryBases(slice, host, now).map((versionId) => ({ key, versionId }));
}

/**
 * For each temporary base whose claim ended: takes the claim over, removes what the backend
 * holds of it (unless a committed record says this host holds that version), drops the claim.
 * They are reported in `abandonedReceives`.
 *
 * @param ctx - the engine
 * @param host - this engine's host
 * @param cut - the bases, from {@link cutTemporaryBases}
 * @param report - where removed bases and errors go
 */
export async function removeCutTemporaryBases(
  ctx: EngineContext,
  host: string,
  cut: readonly VersionAt[],
  report: ReconcileReport,
): Promise<void> {
  for (const { key, versionId } of cut) {
    try {
      const until = ctx.clock() + ctx.leaseMs;
      const taken = await ctx.store.transact(key, (slice) => {
        const next = takeOverTemporaryBase(slice, host, versionId, ctx.clock(), until);
        return {
          slice: next ?? slice,
          result: next ? held(next.volume, versionId, host) === undefined : null,
        };
      });
      if (taken === null) continue;
      if (taken && ctx.backend.capabilities.transfer)
        await ctx.queues.backend(() => ctx.backend.removeVersion(versionId));
      await ctx.store.transact(key, (slice) => ({
        slice: endTemporaryBase(slice, host, versionId, until),
        result: undefined,
      }));
      report.abandonedReceives.push(versionId);
    } catch (error) {
      report.errors.push({ id: versionId, error: String(error) });
    }
  }
}
