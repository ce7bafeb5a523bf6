import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { abandonReceive, beginReceive, completeReceive, expiredReceives } from '../../src/model/locations.js';
import type { VersionRecord, VolumeSlice } from '../../src/model/state.js';
import { arbHost, arbSlices, propertyParameters } from '../../src/testing/index.js';

/**
 * The rules of copies on several hosts (`model/locations.ts`), over generated volumes: a receive
 * adds exactly the receiving host, only once it completes; a claim is exclusive until it ends; an
 * abandoned receive changes nothing; a version removed meanwhile keeps no record of the copy.
 */

const NOW = 1_750_000_000_000;
const LEASE = 60_000;
const params = propertyParameters(200);

/** Every committed version of every generated slice, with its slice. */
const arbTarget = fc.tuple(arbSlices(NOW), arbHost, fc.nat(1000)).map(([slices, host, pick]) => {
  const targets = slices.flatMap((slice) =>
    Object.values(slice.volume?.versions ?? {})
      .filter((v) => v.state === 'committed')
      .map((v) => ({ slice, versionId: v.id })),
  );
  return { target: targets.length === 0 ? null : targets[pick % targets.length], host };
});

const versionIn = (slice: VolumeSlice, id: string) => slice.volume?.versions[id] as VersionRecord;

describe('copies on several hosts', () => {
  it('a completed receive adds exactly the receiving host, once, and changes nothing else', () => {
    fc.assert(
      fc.property(arbTarget, ({ target, host }) => {
        if (!target) return;
        const { slice, versionId } = target;
        const before = versionIn(slice, versionId);
        const begun = beginReceive(slice, versionId, host, NOW, NOW + LEASE);
        if (before.hosts.includes(host)) {
          expect(begun).toEqual({ slice, started: false });
          return;
        }
        expect(versionIn(begun.slice, versionId).hosts).toEqual(before.hosts);
        expect(expiredReceives(begun.slice, host, NOW)).toEqual(expiredReceives(slice, host, NOW));
        const done = completeReceive(begun.slice, versionId, host, NOW + LEASE);
        expect(done.kept).toBe(true);
        const after = versionIn(done.slice, versionId);
        expect(after.hosts).toEqual([...before.hosts, host]);
        expect(after.receiving?.[host]).toBeUndefined();
        expect({ ...after, hosts: before.hosts }).toEqual(before);
        // Other versions and the forks are untouched.
        const others = (s: VolumeSlice) => ({ ...s.volume?.versions, [versionId]: null });
        expect(others(done.slice)).toEqual(others(slice));
        expect(done.slice.forks).toEqual(slice.forks);
      }),
      params,
    );
  });

  it('a claim is exclusive until it ends, and an abandoned receive leaves the version as it was', () => {
    fc.assert(
      fc.property(arbTarget, fc.nat(2 * LEASE), ({ target, host }, later) => {
        if (!target || versionIn(target.slice, target.versionId).hosts.includes(host)) return;
        const { slice, versionId } = target;
        const begun = beginReceive(slice, versionId, host, NOW, NOW + LEASE).slice;
        const second = () => beginReceive(begun, versionId, host, NOW + later, NOW + later + LEASE);
        if (later < LEASE) {
          expect(() => second()).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
          expect(expiredReceives(begun, host, NOW + later)).not.toContain(versionId);
        } else {
          expect(second().started).toBe(true);
          expect(expiredReceives(begun, host, NOW + later)).toContain(versionId);
        }
        expect(versionIn(abandonReceive(begun, versionId, host, NOW + LEASE), versionId)).toEqual(
          versionIn(slice, versionId),
        );
      }),
      params,
    );
  });

  it('a version removed while it was received keeps no record of the copy', () => {
    fc.assert(
      fc.property(arbTarget, ({ target, host }) => {
        if (!target || versionIn(target.slice, target.versionId).hosts.includes(host)) return;
        const { slice, versionId } = target;
        const begun = beginReceive(slice, versionId, host, NOW, NOW + LEASE).slice;
        const version = versionIn(begun, versionId);
        const removing: VolumeSlice = {
          ...begun,
          volume: begun.volume && {
            ...begun.volume,
            versions: { ...begun.volume.versions, [versionId]: { ...version, state: 'removing' } },
          },
        };
        const done = completeReceive(removing, versionId, host, NOW + LEASE);
        expect(done.kept).toBe(false);
        expect(versionIn(done.slice, versionId).hosts).not.toContain(host);
        expect(versionIn(done.slice, versionId).receiving?.[host]).toBeUndefined();
        expect(() => beginReceive(removing, versionId, 'host-z', NOW, NOW + LEASE)).toThrow(
          expect.objectContaining({ code: 'NOT_FOUND' }),
        );
      }),
      params,
    );
  });
});
