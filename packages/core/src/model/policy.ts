/** One day, in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * How parent selection and retention behave. Every field has a default that follows the seeds;
 * see {@link resolvePolicy}.
 */
export interface Policy {
  /**
   * A version idle (neither forked nor committed) this long is expired: never selected, and
   * removed by `gc()`.
   * @defaultValue 14 days
   */
  retentionMs: number;
  /**
   * How many commits behind the head a stale version may be and still be offered: the number of
   * committed versions newer than it, in head order (0 offers only the head).
   * @defaultValue `Infinity`
   */
  maxStaleVersions: number;
  /**
   * How old (since commit) a stale version may be and still be offered.
   * @defaultValue `Infinity`
   */
  maxStaleMs: number;
  /**
   * How many live forks one version may serve at once ("current usage"); a busier version is
   * passed over.
   * @defaultValue `Infinity`
   */
  maxForksPerVersion: number;
  /**
   * Whether versions held only by other hosts may be forked as if this host held them. Turn it
   * on only where something else puts every version on every host (a shared filesystem): a
   * selected version this host lacks is passed over as lost, and removed. To move versions
   * between hosts, give the engine `fleet` instead (`CacheVolumesOptions.fleet`): an attach then
   * pulls a head this host lacks before it selects, and forks only what this host holds.
   * @defaultValue `false`
   */
  transfer: boolean;
  /**
   * Total bytes that versions may use before `gc()` evicts the least recently used ones.
   * @defaultValue `Infinity`
   */
  maxTotalBytes: number;
  /**
   * How many committed versions of one volume are kept, newest first in head order: older ones
   * ("superseded") are removed by `gc()` and after each commit of the volume, unless a live fork
   * depends on them. At least 1 (the head).
   * @defaultValue 2 (the head and the one before it)
   */
  maxVersionsPerVolume: number;
}

/**
 * The policy the seeds describe (14-day retention, any staleness, local versions only), with
 * disk bounded by default: the head and one previous version per volume.
 */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  retentionMs: 14 * DAY_MS,
  maxStaleVersions: Number.POSITIVE_INFINITY,
  maxStaleMs: Number.POSITIVE_INFINITY,
  maxForksPerVersion: Number.POSITIVE_INFINITY,
  transfer: false,
  maxTotalBytes: Number.POSITIVE_INFINITY,
  maxVersionsPerVolume: 2,
});

/**
 * Fills in defaults.
 *
 * @param overrides - the fields to change
 */
export function resolvePolicy(overrides: Partial<Policy> = {}): Policy {
  const policy = { ...DEFAULT_POLICY };
  for (const [key, value] of Object.entries(overrides) as [
    keyof Policy,
    Policy[keyof Policy] | undefined,
  ][]) {
    if (value !== undefined) Object.assign(policy, { [key]: value });
  }
  return policy;
}
