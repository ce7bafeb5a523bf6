/**
 * `@cachevol/cli` (being built).
 *
 * @packageDocumentation
 */

/** The package name. */
export const PACKAGE_NAME = "@cachevol/cli";
