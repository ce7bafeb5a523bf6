/**
 * `@cachevol/backend-zfs` (being built).
 *
 * @packageDocumentation
 */

/** The package name. */
export const PACKAGE_NAME = "@cachevol/backend-zfs";
