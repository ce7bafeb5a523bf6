/**
 * Copies of a version on more than one host. A version's `hosts` are the hosts whose backend
 * holds it whole. A host that receives a copy from another host first claims it in
 * `receiving` (host → when the claim ends), so that two receives on one host never collide and
 * a receive that a crash cut short is found and cleaned up; once the copy is whole and checked,
 * the host moves from `receiving` to `hosts`. A claim is known by its end: the receive that
 * made it completes or abandons it only while it is still that claim, so a receive whose claim
 * ran out and was taken over by a clean-up (see {@link takeOverReceive}) records nothing. Pure
 * functions of the slice, like the rest of the model; the store writes what they return.
 *
 * A version removed on one host while others hold copies stays `removing` with
 * `pendingCopies` until those hosts removed theirs ({@link leftCopies}, {@link dropCopy}).
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
   * `false` when the copy is not recorded: the version was removed (or began to be) while it
   * was received, or the claim is no longer the receive's own (see `claimed`).
   */
  kept: boolean;
  /**
   * Whether the claim was still the receive's own. When it was not, a clean-up took it over
   * and removes the copy itself; the receive must leave the backend alone.
   */
  claimed: boolean;
}

/**
 * Records a received copy: the host leaves `receiving` and joins `hosts`. A version that went
 * meanwhile keeps no record of the copy (`kept: false`, the claim dropped); nor does a claim
 * that is no longer the receive's own (`claimed: false`, the slice unchanged).
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host that received it
 * @param claim - the end of the receive's claim, as {@link beginReceive} set it
 */
export function completeReceive(
  slice: VolumeSlice,
  versionId: string,
  host: string,
  claim: number,
): CompleteReceive {
  const version = slice.volume?.versions[versionId];
  if (version?.receiving?.[host] !== claim) return { slice, kept: false, claimed: false };
  const released = withoutClaim(version, host);
  if (version.state !== 'committed')
    return { slice: withVersion(slice, released), kept: false, claimed: true };
  const hosts = version.hosts.includes(host) ? version.hosts : [...version.hosts, host];
  return { slice: withVersion(slice, { ...released, hosts }), kept: true, claimed: true };
}

/**
 * Drops a host's claim without recording a copy (the receive failed and removed what it had
 * received). Nothing changes when the claim is not that one (there is none, or another took it).
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host whose receive ended
 * @param claim - the end of the claim to drop
 */
export function abandonReceive(
  slice: VolumeSlice,
  versionId: string,
  host: string,
  claim: number,
): VolumeSlice {
  const version = slice.volume?.versions[versionId];
  if (version?.receiving?.[host] !== claim) return slice;
  return withVersion(slice, withoutClaim(version, host));
}

/**
 * Takes over a host's receive whose claim ran out without the copy being recorded, for the
 * clean-up that removes what it left: the claim gets the new end `until`, so neither the
 * receive that made the old claim (it can no longer complete) nor a new receive on the host
 * (`CONFLICT` until then) runs beside the clean-up.
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host
 * @param now - the time (ms since epoch)
 * @param until - the clean-up's claim end
 * @returns the slice with the claim taken over, or `undefined` when there is no such claim
 */
export function takeOverReceive(
  slice: VolumeSlice,
  versionId: string,
  host: string,
  now: number,
  until: number,
): VolumeSlice | undefined {
  if (!expiredReceives(slice, host, now).includes(versionId)) return undefined;
  const version = slice.volume?.versions[versionId] as VersionRecord;
  return withVersion(slice, { ...version, receiving: { ...version.receiving, [host]: until } });
}

/**
 * The versions whose receive by `host` was claimed and not completed by the end of its claim:
 * a crash cut it short, and what it left in the host's backend is to be removed under a claim
 * of its own ({@link takeOverReceive}) before the claim is dropped ({@link abandonReceive}).
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

/**
 * The versions another host removed while `host` still holds a copy (`pendingCopies`): `host`
 * removes its copy, then {@link dropCopy}.
 *
 * @param slice - a volume's slice
 * @param host - the host
 */
export function leftCopies(slice: VolumeSlice, host: string): string[] {
  return Object.values(slice.volume?.versions ?? {})
    .filter((version) => version.pendingCopies && version.hosts.includes(host))
    .map((version) => version.id);
}

/**
 * Records that `host` removed its copy of a version pending copies: the host leaves `hosts`,
 * and the record goes with the last host. Nothing changes for a version that is not pending
 * copies (a removal under way, or one committed again).
 *
 * @param slice - the version's volume
 * @param versionId - the version
 * @param host - the host that removed its copy
 */
export function dropCopy(slice: VolumeSlice, versionId: string, host: string): VolumeSlice {
  const volume = slice.volume;
  const version = volume?.versions[versionId];
  if (!volume || !version?.pendingCopies) return slice;
  const hosts = version.hosts.filter((h) => h !== host);
  if (hosts.length > 0) return withVersion(slice, { ...version, hosts });
  const { [versionId]: _gone, ...versions } = volume.versions;
  return {
    ...slice,
    volume: { ...volume, versions, versionIds: volume.versionIds.filter((id) => id !== versionId) },
  };
}
