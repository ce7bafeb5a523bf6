/**
 * `@cachevol/backend-sparsebundle` (being built).
 *
 * @packageDocumentation
 */

/** The package name. */
export const PACKAGE_NAME = "@cachevol/backend-sparsebundle";
