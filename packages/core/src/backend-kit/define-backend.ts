import type { Backend, EntryKind, ForkOptions, ReceiveOptions, SendOptions } from '../contracts/backend.js';
import { CacheVolumeError } from '../errors.js';
import { validateId } from '../names.js';
import { checkCapacity } from './capacity.js';

function checkKind(kind: unknown): EntryKind {
  if (kind === 'fork' || kind === 'version') return kind;
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `Invalid entry kind ${JSON.stringify(kind)}: expected "fork" or "version".`,
    { details: { kind } },
  );
}

/** The format asked for, when the backend writes and reads it; `INVALID_ARGUMENT` otherwise. */
function checkFormat(backend: Pick<Backend, 'name' | 'transferFormats'>, format: unknown): void {
  const formats = backend.transferFormats ?? [];
  if (format === undefined || formats.includes(format as never)) return;
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `The ${backend.name} backend does not transfer versions as ${JSON.stringify(format)}: it knows ${formats.join(', ')}.`,
    { details: { format, formats: [...formats] } },
  );
}

/** What {@link defineBackend} takes: a backend whose `ready` may be left out. */
export type BackendDefinition<B extends Backend = Backend> = Omit<B, 'ready'> & Partial<Pick<B, 'ready'>>;

/**
 * Makes a backend out of the methods that only its technology needs, applying once, before
 * any of them runs, the checks that the `Backend` contract requires of every backend:
 *
 * - every fork and version id is checked with `validateId` (`INVALID_ARGUMENT`, and the
 *   backend's method is not called), so a path or command line never sees a bad id;
 * - `createFork` and `forkVersion` get a capacity that is a positive, safe whole number of
 *   bytes (`INVALID_ARGUMENT` otherwise, see `checkCapacity`);
 * - `usage` gets a kind that is `fork` or `version`;
 * - a check that fails rejects the returned promise (it never throws synchronously);
 * - a backend with nothing to set up may leave `ready` out: it then resolves at once;
 * - `sendVersion` and `receiveVersion` get valid ids and a format from `transferFormats`, and
 *   a backend that declares `transfer` must have both and list `tar-zstd` (checked here, at
 *   definition, as a programming error).
 *
 * Every other member of `backend` (its `name`, `capabilities`, a `root`, extra methods) is
 * copied as it is; extra methods are not checked, so check their ids yourself.
 *
 * @param backend - the backend's own implementation, which may rely on checked arguments
 * @returns the same backend, with the contract's checks in front of its methods
 *
 * @example
 * ```ts
 * export function createTarBackend(options: TarBackendOptions): Backend {
 *   return defineBackend({
 *     name: 'tar',
 *     capabilities: { copyOnWrite: false, constantTime: false, quota: false, transfer: true, changeDetection: false },
 *     async createFork(forkId, { capacityBytes }) { ... },
 *     ...
 *   })
 * }
 * ```
 */
export function defineBackend<B extends Backend>(backend: BackendDefinition<B>): B {
  const { ready } = backend;
  const checked: Backend = {
    ...backend,
    async ready() {
      await ready?.call(backend);
    },
    async createFork(forkId: string, options: ForkOptions) {
      validateId(forkId, 'fork id');
      const capacityBytes = checkCapacity(options);
      return backend.createFork(forkId, { ...options, capacityBytes });
    },
    async forkVersion(forkId: string, versionId: string, options: ForkOptions) {
      validateId(forkId, 'fork id');
      validateId(versionId, 'version id');
      const capacityBytes = checkCapacity(options);
      return backend.forkVersion(forkId, versionId, { ...options, capacityBytes });
    },
    async commitFork(forkId: string, versionId: string) {
      validateId(forkId, 'fork id');
      validateId(versionId, 'version id');
      return backend.commitFork(forkId, versionId);
    },
    async discardFork(forkId: string) {
      validateId(forkId, 'fork id');
      return backend.discardFork(forkId);
    },
    async removeVersion(versionId: string) {
      validateId(versionId, 'version id');
      return backend.removeVersion(versionId);
    },
    async usage(kind: EntryKind, id: string) {
      const checkedKind = checkKind(kind);
      validateId(id, `${checkedKind} id`);
      return backend.usage(checkedKind, id);
    },
    async list() {
      return backend.list();
    },
  };
  const { sendVersion, receiveVersion } = backend;
  if (backend.capabilities.transfer) {
    if (!sendVersion || !receiveVersion || !backend.transferFormats?.includes('tar-zstd')) {
      throw new CacheVolumeError(
        'INTERNAL',
        `The ${backend.name} backend declares \`transfer\` but lacks sendVersion, receiveVersion or the tar-zstd format.`,
      );
    }
    checked.sendVersion = async (versionId: string, options: SendOptions = {}) => {
      validateId(versionId, 'version id');
      if (options.baseId !== undefined) validateId(options.baseId, 'base version id');
      checkFormat(backend, options.format);
      return sendVersion.call(backend, versionId, options);
    };
    checked.receiveVersion = async (versionId, stream, options: ReceiveOptions) => {
      validateId(versionId, 'version id');
      if (options.baseId !== null) validateId(options.baseId, 'base version id');
      checkFormat(backend, options.format ?? null);
      return receiveVersion.call(backend, versionId, stream, options);
    };
  }
  const { hasChanges } = backend;
  if (hasChanges) {
    checked.hasChanges = async (forkId: string) => {
      validateId(forkId, 'fork id');
      return hasChanges.call(backend, forkId);
    };
  }
  return checked as B;
}
