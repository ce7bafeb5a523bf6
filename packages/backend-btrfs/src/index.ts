/**
 * `@cachevol/backend-btrfs` (being built).
 *
 * @packageDocumentation
 */

/** The package name. */
export const PACKAGE_NAME = "@cachevol/backend-btrfs";
