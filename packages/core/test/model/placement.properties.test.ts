import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FleetView, heldBases, planAttach } from '../../src/model/placement.js';
import { headOf, selectParent } from '../../src/model/selection.js';
import type { VolumeSlice } from '../../src/model/state.js';
import { arbHost, arbPolicy, arbSlices, propertyParameters } from '../../src/testing/index.js';

/**
 * The rules of selection that weighs transfer (`model/placement.ts`), over generated volumes,
 * fleets and budgets: the fallback is always this host's own selection; a fetch is planned only
 * for a usable head this host lacks, from sources that hold it; the budget alone separates a
 * pull from a prefetch, and a larger budget never turns a pull into a prefetch.
 */

const NOW = 1_750_000_000_000;
const params = propertyParameters(300);

const arbFleet: fc.Arbitrary<FleetView> = fc.record({
  peers: fc.uniqueArray(arbHost, { maxLength: 3 }),
  restorable: fc.boolean().map((yes) => () => yes),
  bytesPerSecond: fc.integer({ min: 1, max: 2 ** 31 }),
  setupMs: fc.nat(5_000),
  budgetMs: fc.integer({ min: 1, max: 600_000 }),
});

const arbCase = fc.record({
  slice: arbSlices(NOW).map((slices: VolumeSlice[]) => slices[0]),
  host: arbHost,
  policy: arbPolicy,
  fleet: arbFleet,
});

describe('selection that weighs transfer', () => {
  it('falls back to the host’s own selection, and fetches only a usable head the host lacks, from sources that hold it', () => {
    fc.assert(
      fc.property(arbCase, ({ slice, host, policy, fleet }) => {
        const volume = slice?.volume ?? undefined;
        const forks = Object.values(slice?.forks ?? {});
        const request = { host, now: NOW };
        const plan = planAttach(volume, forks, request, policy, fleet);
        expect(plan.local).toEqual(selectParent(volume, forks, request, { ...policy, transfer: false }));
        if (plan.action === 'local') {
          expect(plan).toMatchObject({ head: null, sources: [], estimate: null });
          return;
        }
        const head = headOf(volume);
        expect(plan.head).toBe(head);
        expect(plan.local.result).not.toBe('hit');
        expect(head?.hosts).not.toContain(host);
        // Usable anywhere: what selection would give were every copy local.
        expect(selectParent(volume, forks, request, { ...policy, transfer: true }).version?.id).toBe(
          head?.id,
        );
        expect(plan.sources.length).toBeGreaterThan(0);
        for (const source of plan.sources) {
          if (source.kind === 'objects') continue;
          expect(fleet.peers).toContain(source.host);
          expect(head?.hosts).toContain(source.host);
          expect(source.host).not.toBe(host);
        }
        const estimate = plan.estimate;
        expect(estimate?.bytes).toBeLessThanOrEqual(head?.usedBytes ?? 0);
        expect(estimate?.ms).toBeGreaterThanOrEqual(fleet.setupMs);
        if (estimate?.baseId) expect(heldBases(volume, head?.id ?? '', host)[0]).toBe(estimate.baseId);
        expect(plan.action).toBe((estimate?.ms ?? 0) <= fleet.budgetMs ? 'pull' : 'prefetch');
      }),
      params,
    );
  });

  it('a larger budget never turns a pull into a prefetch, nor changes what is fetched', () => {
    fc.assert(
      fc.property(arbCase, fc.nat(600_000), ({ slice, host, policy, fleet }, more) => {
        const volume = slice?.volume ?? undefined;
        const forks = Object.values(slice?.forks ?? {});
        const small = planAttach(volume, forks, { host, now: NOW }, policy, fleet);
        const large = planAttach(volume, forks, { host, now: NOW }, policy, {
          ...fleet,
          budgetMs: fleet.budgetMs + more,
        });
        expect(large.head).toBe(small.head);
        expect(large.sources).toEqual(small.sources);
        if (small.action === 'pull') expect(large.action).toBe('pull');
      }),
      params,
    );
  });
});
