import { createHash } from 'node:crypto';
import type { TransferFormat, VersionStream } from '../contracts/backend.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { abandonReceive, beginReceive, completeReceive } from '../model/locations.js';
import { heldBases } from '../model/placement.js';
import type { VolumeKey } from '../model/state.js';
import type { EngineContext } from './context.js';

/**
 * Moving versions between hosts that share a store: one host's engine opens a version it holds
 * as a stream (`CacheVolumes.send`), another's receives it into its own backend and records
 * itself among the version's hosts (`CacheVolumes.pull`). Only the store says which copies
 * count: a receive is claimed before it starts, and a copy joins the version's `hosts` once it
 * is whole and its digest checked (see `model/locations.ts`).
 */

/** What a receiving host asks of a sender. */
export interface SendRequest extends VolumeKey {
  /** The version to send. */
  versionId: string;
  /**
   * Versions of the volume the receiver holds, the most useful first (the version's nearest
   * ancestors): the stream may carry only the difference from one of them.
   */
  baseIds: readonly string[];
  /** The formats the receiver reads (its backend's `transferFormats`). */
  formats: readonly TransferFormat[];
}

/** A version opened for sending: the stream, and its sha256 once it has been read whole. */
export interface OpenedVersion extends VersionStream {
  /**
   * The sha256 (hex) of the stream, computed as it is read: resolves once it ends, rejects when
   * it fails or is stopped.
   */
  sha256: Promise<string>;
}

/**
 * Where a host gets a version it lacks: another host's engine (`engine.send` of a
 * `CacheVolumes` in the same process, as tests do), or a client of another host's agent.
 */
export interface VersionSource {
  /** Opens a version as a stream (see {@link SendRequest}). */
  open(request: SendRequest): Promise<OpenedVersion>;
}

/** What {@link CacheVolumes.pull} did. */
export interface PullReport {
  /** The version. */
  versionId: string;
  /** `false` when this host held it already (nothing was received). */
  received: boolean;
  /** The stream's format, when one was received. */
  format: TransferFormat | null;
  /** The version the stream was relative to, or `null` (whole, or nothing received). */
  baseId: string | null;
  /** Bytes received. */
  bytes: number;
}

function cannot(what: string, ctx: Pick<EngineContext, 'backend'>): never {
  throw new CacheVolumeError(
    'BACKEND_UNAVAILABLE',
    `The ${ctx.backend.name} backend cannot ${what} versions (its \`transfer\` capability is off).`,
    { details: { backend: ctx.backend.name } },
  );
}

/**
 * Opens a version this host holds as a stream for another host: relative to the first of
 * `baseIds` this host holds too (the backend may still send it whole), in the first of the
 * backend's formats the receiver reads.
 *
 * @param ctx - the engine
 * @param host - this engine's host
 * @param request - the version, the receiver's bases and formats
 * @throws `NOT_FOUND` when this host holds no copy; `INVALID_ARGUMENT` when the receiver reads
 *   none of the backend's formats; `BACKEND_UNAVAILABLE` when the backend cannot send
 */
export async function openVersion(
  ctx: Pick<EngineContext, 'backend' | 'store'>,
  host: string,
  request: SendRequest,
): Promise<OpenedVersion> {
  const { backend } = ctx;
  if (!backend.capabilities.transfer || !backend.sendVersion) return cannot('send', ctx);
  const slice = await ctx.store.read({ scope: request.scope, name: request.name });
  const version = slice.volume?.versions[request.versionId];
  if (version?.state !== 'committed' || !version.hosts.includes(host)) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Host "${host}" holds no copy of version "${request.versionId}" of volume "${request.name}" (scope "${request.scope}").`,
      { details: { versionId: request.versionId, host } },
    );
  }
  const format = (backend.transferFormats ?? []).find((f) => request.formats.includes(f));
  if (!format) {
    throw new CacheVolumeError(
      'INVALID_ARGUMENT',
      `The receiver reads ${request.formats.join(', ') || 'no format'}; the ${backend.name} backend writes ${(backend.transferFormats ?? []).join(', ')}.`,
      { details: { formats: [...request.formats] } },
    );
  }
  const held = new Set(heldBases(slice.volume, request.versionId, host));
  const baseId = request.baseIds.find((id) => held.has(id));
  const sent = await backend.sendVersion(request.versionId, { format, ...(baseId ? { baseId } : {}) });
  return hashed(sent);
}

/** The stream with its sha256 computed as it passes. */
function hashed(sent: VersionStream): OpenedVersion {
  const hash = createHash('sha256');
  let settle: { resolve: (digest: string) => void; reject: (error: unknown) => void } | undefined;
  const sha256 = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  sha256.catch(() => undefined); // a receiver that fails early never asks for it
  async function* stream(): AsyncGenerator<Uint8Array> {
    let ended = false;
    try {
      for await (const chunk of sent.stream) {
        hash.update(chunk);
        yield chunk;
      }
      ended = true;
      settle?.resolve(hash.digest('hex'));
    } finally {
      if (!ended) settle?.reject(new Error('the stream was stopped or failed before its end'));
    }
  }
  return { format: sent.format, baseId: sent.baseId, stream: stream(), sha256 };
}

/**
 * Receives a version that other hosts hold into this host's backend, from `source`, and records
 * this host among its `hosts`: claimed first (a second pull of it here gets `CONFLICT`),
 * relative to a version this host holds where the sender can, whole when the receiver lacks
 * that base after all. A version removed meanwhile is not kept. A receive that fails leaves
 * nothing in the backend, and its claim is dropped; a copy that arrived whole but could not be
 * recorded (the store failed) keeps the claim, so that `reconcile()` removes it once it ends.
 *
 * @param ctx - the engine
 * @param host - this engine's host
 * @param key - the volume
 * @param versionId - the version
 * @param source - where to get it
 */
export async function pullVersion(
  ctx: EngineContext,
  host: string,
  key: VolumeKey,
  versionId: string,
  source: VersionSource,
): Promise<PullReport> {
  const { backend } = ctx;
  if (!backend.capabilities.transfer || !backend.receiveVersion) return cannot('receive', ctx);
  const now = ctx.clock();
  const claim = now + ctx.leaseMs;
  const begun = await ctx.store.transact(key, (slice) => {
    const outcome = beginReceive(slice, versionId, host, now, claim);
    return { slice: outcome.slice, result: outcome };
  });
  if (!begun.started) return { versionId, received: false, format: null, baseId: null, bytes: 0 };
  const release = () =>
    ctx.store.transact(key, (slice) => ({
      slice: abandonReceive(slice, versionId, host, claim),
      result: undefined,
    }));
  // True while this host's backend holds a copy that the store does not record: the claim then
  // stays on failure, so that reconcile() removes the copy once the claim ends.
  let unrecorded = false;
  try {
    const formats = backend.transferFormats ?? [];
    const bases = heldBases(begun.slice.volume, versionId, host);
    const receive = async (baseIds: readonly string[]) => {
      const opened = await source.open({ ...key, versionId, baseIds, formats });
      let bytes = 0;
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of opened.stream) {
          bytes += chunk.length;
          yield chunk;
        }
      }
      await ctx.queues.backend(() =>
        (backend.receiveVersion as NonNullable<typeof backend.receiveVersion>).call(
          backend,
          versionId,
          counted(),
          { format: opened.format, baseId: opened.baseId, sha256: opened.sha256 },
        ),
      );
      return { versionId, received: true, format: opened.format, baseId: opened.baseId, bytes };
    };
    let report: PullReport;
    try {
      report = await receive(bases);
    } catch (error) {
      // The base this host was thought to hold is not in its backend: ask for it whole.
      if (!isCacheVolumeError(error, 'NOT_FOUND') || bases.length === 0) throw error;
      report = await receive([]);
    }
    unrecorded = true;
    const done = await ctx.store.transact(key, (slice) => {
      const outcome = completeReceive(slice, versionId, host, claim);
      // A version removed meanwhile: the claim stays until its copy here is removed (below).
      return { slice: outcome.kept ? outcome.slice : slice, result: outcome };
    });
    if (done.kept) return report;
    if (!done.claimed) {
      // The claim ran out and a clean-up took it over: it removes the copy, not this receive.
      unrecorded = false;
      throw new CacheVolumeError(
        'CONFLICT',
        `The receive of version "${versionId}" outlasted its claim, which a clean-up took over; the copy is not recorded.`,
        { details: { versionId, host } },
      );
    }
    await ctx.queues.backend(() => backend.removeVersion(versionId));
    unrecorded = false;
    await release();
    return report;
  } catch (error) {
    if (!unrecorded) await release().catch(() => undefined);
    throw error;
  }
}
