/**
 * `@cachevol/backend-memory`: an in-process copy-on-write backend whose file trees tests can
 * read and write, so fork isolation is observable.
 *
 * @packageDocumentation
 */
export { createMemoryBackend, type MemoryBackend, type MemoryBackendOptions } from './memory-backend.js';
export { memoryFileAccess } from './memory-file-access.js';
export { type ReadableTree, treePath, type WritableTree } from './memory-tree.js';
