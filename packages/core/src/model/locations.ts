/**
 * Copies of a version on more than one host. A version's `hosts` are the hosts whose backend
 * holds it whole. A host that receives a copy from another host first claims it in
 * `receiving` (host → when the claim ends), so that two receives on one host never collide and
 * a receive that a crash cut short is found and cleaned up; once the copy is whole and checked,
 * the host moves from `receiving` to `hosts`. Pure functions of the slice, like the rest of the
 * model; the store writes what they return.
 */
import { CacheVolumeError } from '../errors.js';
import type { VersionRecord, VolumeRecord, VolumeSlice } from './state.js';

/** Replaces one version of the slice's volume (callers found the version in it). */
function withVersion(slice: VolumeSlice, version: VersionRecord): VolumeSlice {
  const volume = slice.volume as VolumeRecord;
  return { ...slice, volume: { ...volume, versions: { ...volume.versions, [version.id]: version } } };
}

/** The version without `host`'s claim (and without `receiving` once it is empty). */
function withoutClaim(version: VersionRecord, host: string): VersionRecord {
  const { [host]: _, ...rest } = version.receiving ?? {};
  const { receiving: __, ...plain } = version;
  return Object.keys(rest).length === 0 ? plain : { ...plain, receiving: rest };
}

/** The outcome of {@link beginReceive}. */
export interface BeginReceive {
  /** The slice with the claim (unchanged when the host holds the version already). */
  slice: VolumeSlice;
  /** `false` when the host holds the version already: there is nothing to receive. */
  started: boolean;
}

/**
 * Claims the receive of a version by a host, until `leaseUntil`.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the receiving host
 * @param now - the time (ms since epoch)
 * @param leaseUntil - when the claim ends unless renewed or completed
 * @throws `NOT_FOUND` when the version is gone or being removed; `CONFLICT` when the host's
 *   earlier claim has not ended (a receive of it runs there now)
 */
export function beginReceive(
  slice: VolumeSlice,
  versionId: string,
  host: string,
  now: number,
  leaseUntil: number,
): BeginReceive {
  const version = slice.volume?.versions[versionId];
  if (version?.state !== 'committed') {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Version "${versionId}" of volume "${slice.name}" (scope "${slice.scope}") is gone or being removed: there is nothing to receive.`,
      { details: { versionId } },
    );
  }
  if (version.hosts.includes(host)) return { slice, started: false };
  const claim = version.receiving?.[host] ?? Number.NEGATIVE_INFINITY;
  if (claim > now) {
    throw new CacheVolumeError(
      'CONFLICT',
      `Host "${host}" is receiving version "${versionId}" already (its claim ends at ${new Date(claim).toISOString()}).`,
      { details: { versionId, host, claimUntil: claim } },
    );
  }
  const receiving = { ...version.receiving, [host]: leaseUntil };
  return { slice: withVersion(slice, { ...version, receiving }), started: true };
}

/** The outcome of {@link completeReceive}. */
export interface CompleteReceive {
  /** The slice with the host among the version's `hosts` (or only its claim dropped). */
  slice: VolumeSlice;
  /**
   * `false` when the version was removed (or began to be) while it was received: the host's
   * copy is not recorded, and the caller removes it from its backend.
   */
  kept: boolean;
}

/**
 * Records a received copy: the host leaves `receiving` and joins `hosts`. A version that went
 * meanwhile keeps no record of the copy (`kept: false`).
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host that received it
 */
export function completeReceive(slice: VolumeSlice, versionId: string, host: string): CompleteReceive {
  const version = slice.volume?.versions[versionId];
  if (!version) return { slice, kept: false };
  const released = withoutClaim(version, host);
  if (version.state !== 'committed') return { slice: withVersion(slice, released), kept: false };
  const hosts = version.hosts.includes(host) ? version.hosts : [...version.hosts, host];
  return { slice: withVersion(slice, { ...released, hosts }), kept: true };
}

/**
 * Drops a host's claim without recording a copy (the receive failed and removed what it had
 * received). Nothing changes when there is no claim.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host whose receive ended
 */
export function abandonReceive(slice: VolumeSlice, versionId: string, host: string): VolumeSlice {
  const version = slice.volume?.versions[versionId];
  if (version?.receiving?.[host] === undefined) return slice;
  return withVersion(slice, withoutClaim(version, host));
}

/**
 * The versions whose receive by `host` was claimed and not completed by the end of its claim:
 * a crash cut it short, and what it left in the host's backend is to be removed before the
 * claim is dropped ({@link abandonReceive}).
 *
 * @param slice - a volume's slice
 * @param host - the host
 * @param now - the time (ms since epoch)
 */
export function expiredReceives(slice: VolumeSlice, host: string, now: number): string[] {
  return Object.values(slice.volume?.versions ?? {})
    .filter((version) => {
      const claim = version.receiving?.[host] ?? Number.POSITIVE_INFINITY;
      return claim <= now && !version.hosts.includes(host);
    })
    .map((version) => version.id);
}
