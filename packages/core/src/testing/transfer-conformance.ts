import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, ForkOptions, TransferFormat, VersionStream } from '../contracts/backend.js';
import type { FileAccess } from '../contracts/file-access.js';
import { isCacheVolumeError } from '../errors.js';

/** A backend for one test and its cleanup (the shape of the suite's `BackendUnderTest`). */
interface Peer<B extends Backend> {
  backend: B;
  cleanup?: () => void | Promise<void>;
}

/** What the transfer tests need from the conformance suite. */
export interface TransferTestContext<B extends Backend> {
  /** The current test's backend: the sender. */
  current: () => B;
  /** Another host's backend, empty, and its cleanup; absent when the backend has no transfer. */
  peer: (() => Peer<B> | Promise<Peer<B>>) | undefined;
  files: FileAccess;
  fork: ForkOptions;
}

/** A stream read whole, with its digest. */
interface Sent {
  format: TransferFormat;
  baseId: string | null;
  bytes: Buffer;
  sha256: string;
}

async function readWhole(sent: VersionStream): Promise<Sent> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of sent.stream) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { format: sent.format, baseId: sent.baseId, bytes, sha256 };
}

async function* chunks(bytes: Buffer, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const IDS = ['', '..', 'a/b', '-flag', 'UPPER'];

/**
 * The transfer part of the backend conformance suite (`describeBackendConformance`): a version
 * sent by one backend and received by another (a second host) arrives whole, incrementally when
 * the format can, or not at all: a stream cut short, corrupt or with the wrong digest, or an
 * incremental one whose base is missing, leaves nothing on the receiver.
 *
 * @param context - the suite's sender, the peer factory, file access and fork options
 */
export function describeTransferTests<B extends Backend>(context: TransferTestContext<B>): void {
  const { current, files, fork } = context;

  it('transfers exactly when it declares transfer', () => {
    const backend = current();
    if (!backend.capabilities.transfer) {
      expect(backend.sendVersion).toBeUndefined();
      expect(backend.receiveVersion).toBeUndefined();
      return;
    }
    expect(context.peer, 'a backend that declares transfer passes `peer` to the suite').toBeDefined();
    expect(typeof backend.sendVersion).toBe('function');
    expect(typeof backend.receiveVersion).toBe('function');
    expect(backend.transferFormats).toContain('tar-zstd');
  });

  const makePeer = context.peer;
  if (!makePeer) return;

  describe('transfer to another host', () => {
    let peerUnderTest: Peer<B> | undefined;
    const peer = (): B => {
      if (!peerUnderTest) throw new Error('no peer backend');
      return peerUnderTest.backend;
    };
    beforeEach(async () => {
      peerUnderTest = await makePeer();
    });
    afterEach(async () => {
      const cleanup = peerUnderTest?.cleanup;
      peerUnderTest = undefined;
      await cleanup?.();
    });

    const send = (backend: B, versionId: string, options?: Parameters<NonNullable<B['sendVersion']>>[1]) =>
      (backend.sendVersion as NonNullable<B['sendVersion']>)
        .call(backend, versionId, options)
        .then(readWhole);
    const receive = (backend: B, versionId: string, sent: Sent, bytes = sent.bytes, sha256 = sent.sha256) =>
      (backend.receiveVersion as NonNullable<B['receiveVersion']>).call(backend, versionId, chunks(bytes), {
        format: sent.format,
        baseId: sent.baseId,
        sha256,
      });
    const versionsOf = async (backend: B) => (await backend.list()).map((e) => `${e.kind}:${e.id}`).sort();

    /** v1 (a file of 256 KiB and a small one), then v2: v1 plus one small file. */
    async function twoVersions(): Promise<void> {
      const a = await current().createFork('f1', fork);
      await files.fill(a.mountPath, 'big.bin', 256 * 1024);
      await files.write(a.mountPath, 'deep/a.txt', 'alpha');
      await current().commitFork('f1', 'v1');
      const b = await current().forkVersion('f2', 'v1', fork);
      await files.write(b.mountPath, 'deep/b.txt', 'beta');
      await current().commitFork('f2', 'v2');
    }

    async function expectContents(backend: B, versionId: string, expected: Record<string, string>) {
      const mount = await backend.forkVersion(`check-${versionId}`, versionId, fork);
      const paths = Object.keys(expected);
      expect((await files.list(mount.mountPath)).filter((p) => p !== 'big.bin')).toEqual(paths.sort());
      for (const path of paths) expect(await files.read(mount.mountPath, path)).toBe(expected[path]);
      await backend.discardFork(`check-${versionId}`);
    }

    it('sends a version whole, and the peer receives it with the same contents', async () => {
      await twoVersions();
      const sent = await send(current(), 'v1');
      expect(sent.baseId).toBeNull();
      expect(current().transferFormats?.[0]).toBe(sent.format);
      const usage = await receive(peer(), 'v1', sent);
      expect(usage.usedBytes).toBeGreaterThan(0);
      expect(await versionsOf(peer())).toEqual(['version:v1']);
      await expectContents(peer(), 'v1', { 'deep/a.txt': 'alpha' });
      // Received again (a retry): its usage, and still one version.
      await receive(peer(), 'v1', sent);
      expect(await versionsOf(peer())).toEqual(['version:v1']);
    });

    it('sends only the difference from a base the peer holds, when its format can', async () => {
      await twoVersions();
      await receive(peer(), 'v1', await send(current(), 'v1'));
      const whole = await send(current(), 'v2');
      const delta = await send(current(), 'v2', { baseId: 'v1' });
      if (delta.baseId !== null) {
        expect(delta.baseId).toBe('v1');
        expect(delta.bytes.length, 'an incremental stream carries less than the whole').toBeLessThan(
          whole.bytes.length / 2,
        );
      }
      await receive(peer(), 'v2', delta);
      await expectContents(peer(), 'v2', { 'deep/a.txt': 'alpha', 'deep/b.txt': 'beta' });
      // The sender's versions are untouched by sending.
      await expectContents(current(), 'v1', { 'deep/a.txt': 'alpha' });
    });

    it('sends and receives tar-zstd, the format between backends of every kind', async () => {
      await twoVersions();
      const sent = await send(current(), 'v2', { format: 'tar-zstd', baseId: 'v1' });
      expect(sent.format).toBe('tar-zstd');
      await receive(peer(), 'v2', sent);
      await expectContents(peer(), 'v2', { 'deep/a.txt': 'alpha', 'deep/b.txt': 'beta' });
    });

    it('keeps nothing of a stream cut short, corrupt or with another digest, and receives it whole after', async () => {
      await twoVersions();
      const sent = await send(current(), 'v1');
      const half = sent.bytes.subarray(0, Math.floor(sent.bytes.length / 2));
      await expect(receive(peer(), 'v1', sent, half)).rejects.toBeDefined();
      expect(await versionsOf(peer())).toEqual([]);

      const flipped = Buffer.from(sent.bytes);
      const at = Math.floor(flipped.length / 2);
      flipped[at] = (flipped[at] as number) ^ 0xff;
      await expect(receive(peer(), 'v1', sent, flipped)).rejects.toBeDefined();
      expect(await versionsOf(peer())).toEqual([]);

      const wrong = await receive(peer(), 'v1', sent, sent.bytes, '0'.repeat(64)).catch((e: unknown) => e);
      expect(isCacheVolumeError(wrong, 'BACKEND_FAILED')).toBe(true);
      expect((wrong as { details: { reason?: string } }).details.reason).toBe('digest-mismatch');
      expect(await versionsOf(peer())).toEqual([]);

      await receive(peer(), 'v1', sent);
      await expectContents(peer(), 'v1', { 'deep/a.txt': 'alpha' });
    });

    it('refuses an incremental stream whose base it does not hold, and keeps nothing', async () => {
      await twoVersions();
      const delta = await send(current(), 'v2', { baseId: 'v1' });
      if (delta.baseId === null) {
        // A format without increments sends the whole version: the peer takes it.
        await receive(peer(), 'v2', delta);
        expect(await versionsOf(peer())).toEqual(['version:v2']);
        return;
      }
      const error = await receive(peer(), 'v2', delta).catch((e: unknown) => e);
      expect(isCacheVolumeError(error, 'NOT_FOUND'), String(error)).toBe(true);
      expect(await versionsOf(peer())).toEqual([]);
    });

    it('stops the sender when the reader stops early, leaving the version as it was', async () => {
      await twoVersions();
      const sent = await (current().sendVersion as NonNullable<B['sendVersion']>).call(current(), 'v1');
      for await (const _ of sent.stream) break;
      await current().removeVersion('v2');
      await current().removeVersion('v1');
      expect(await versionsOf(current())).toEqual([]);
    });

    it('answers NOT_FOUND for a version it does not hold, and INVALID_ARGUMENT for bad ids', async () => {
      const backend = current();
      const sendVersion = backend.sendVersion as NonNullable<B['sendVersion']>;
      const missing = await sendVersion.call(backend, 'nope').catch((e: unknown) => e);
      expect(isCacheVolumeError(missing, 'NOT_FOUND')).toBe(true);
      for (const bad of IDS) {
        const sent = await sendVersion.call(backend, bad).catch((e: unknown) => e);
        expect(isCacheVolumeError(sent, 'INVALID_ARGUMENT')).toBe(true);
        const received = await receive(peer(), bad, {
          format: 'tar-zstd',
          baseId: null,
          bytes: Buffer.alloc(0),
          sha256: '',
        }).catch((e: unknown) => e);
        expect(isCacheVolumeError(received, 'INVALID_ARGUMENT')).toBe(true);
      }
      expect(await versionsOf(peer())).toEqual([]);
    });
  });
}
