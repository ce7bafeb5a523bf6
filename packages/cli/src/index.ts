/**
 * `@cachevol/cli`: the `cachevol` command (attach, run and commit CI cache volumes from runner
 * images and local pipeline runs), and the pieces it is built from for embedding.
 *
 * @packageDocumentation
 */

export type { CliIo, TextSink } from './internal/output.js';
export { EXIT_CODES, type MainIo, main } from './main.js';
