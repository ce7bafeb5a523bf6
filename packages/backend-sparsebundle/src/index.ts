/**
 * `@cachevol/backend-sparsebundle`: the macOS backend. Forks are APFS sparse bundle disk images
 * attached with `hdiutil`; forks of a version are APFS clones of its bundle.
 *
 * @packageDocumentation
 */
export {
  type CommandResult,
  type CommandRunner,
  createProcessRunner,
  MACOS_TOOL_PATHS,
  type ProcessRunnerOptions,
} from './command-runner.js';
export { RESERVED_MACOS_PATHS } from './internal/reserved-paths.js';
export { type SparseBundleBackendOptions, sparseBundleBackendOptionsSchema } from './options.js';
export { createSparseBundleBackend, type SparseBundleBackend } from './sparsebundle-backend.js';
