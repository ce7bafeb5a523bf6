/**
 * `@cachevol/core/testing`: fast-check arbitraries for the model, named property assertions,
 * the backend conformance suite, and the model-based harness for `CacheVolumes`. Needs
 * `vitest` and `fast-check` (peer dependencies).
 *
 * @packageDocumentation
 */
export { type ConformanceContext, type ConformanceOptions, describeBackendConformance, HOSTILE_IDS } from './conformance.js';
export { type FileAccess, nodeFileAccess, noise } from './file-access.js';
