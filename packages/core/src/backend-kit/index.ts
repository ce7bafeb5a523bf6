/**
 * `@cachevol/core/backend-kit`: what every backend needs, written once. `defineBackend` applies
 * the contract's id and capacity checks to a backend's own methods; `notFound` and the stat
 * helpers give every backend the same errors and the same view of a missing path; one command
 * runner spawns tools with argument arrays (never a shell), with install hints and stderr
 * classification into `CacheVolumeError` codes; `retryWhileBusy` retries what a busy
 * filesystem refused; `once` runs set-up once per backend object and `BackgroundWork` tracks
 * what runs on after a call returned; `streamCommand`, `pipeCommand`, the `tar-zstd` helpers
 * and `verifiedInput` are what `sendVersion` and `receiveVersion` are made of. The guide `docs/backends/writing-a-backend.md` walks through a backend
 * built on it.
 *
 * @packageDocumentation
 */
export { BackgroundWork } from './background.js';
export { checkCapacity } from './capacity.js';
export {
  type CommandOptions,
  type CommandResult,
  commandFailure,
  runCommand,
  spawnCommand,
} from './command.js';
export { type BackendDefinition, defineBackend } from './define-backend.js';
export { errnoCode, isDirectory, namesIn, statOrNull } from './fs.js';
export { ID_PATTERN, isIdName } from './ids.js';
export { type NotFoundOptions, notFound } from './not-found.js';
export { type Once, once } from './once.js';
export {
  BUSY_RETRY_DELAYS_MS,
  isBusyError,
  type RetryWhileBusyOptions,
  retryWhileBusy,
} from './retry.js';
export { classifyStderr, errnoFromStderr, type StderrRule } from './stderr.js';
export { pipeCommand, type StreamCommandOptions, streamCommand } from './stream.js';
export { extractTarZstd, tarZstdStream, type VerifiedInput, verifiedInput } from './transfer.js';
export { versionExists } from './version-exists.js';
