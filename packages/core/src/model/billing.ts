import { CacheVolumeError } from '../errors.js';
import { GIB } from '../size.js';
import { DAY_MS } from './policy.js';

/** Prices the estimate uses; they are inputs because plans differ (and may be zero). */
export interface Prices {
  /** Fixed cost of one build that defines a cache at least once. */
  perBuild: number;
  /** Cost per gigabyte (2^30 bytes) of active cache. */
  perActiveGb: number;
}

/** A build and how many times its pipeline defined a cache. */
export interface BuildUsage {
  /** The build's id; the same id counted twice is one build. */
  buildId: string;
  /** How many `cache:` definitions the build had (0 = none, so no fixed cost). */
  cacheDefinitions: number;
}

/** A volume's size and last use, for the per-GB part. */
export interface VolumeUsage {
  /** The volume's size in bytes. */
  usedBytes: number;
  /** Last use (ms since epoch). */
  lastUsedAt: number;
}

/** What {@link estimateBill} needs. */
export interface BillInput {
  /** The builds in the period. */
  builds: readonly BuildUsage[];
  /** The volumes. */
  volumes: readonly VolumeUsage[];
  /** Current time (ms); "active" means used in the 24 hours before it. */
  now: number;
  /** Prices. */
  prices: Prices;
}

/** The estimate. */
export interface Bill {
  /** Builds that pay the fixed cost. */
  billableBuilds: number;
  /** `billableBuilds * perBuild`. */
  buildCost: number;
  /** Gigabytes of active cache. */
  activeGb: number;
  /** `activeGb * perActiveGb`. */
  storageCost: number;
  /** The sum. */
  total: number;
}

/**
 * Estimates cache charges as the older Buildkite text describes: a fixed cost per build that
 * defines a cache at least once (however many times), plus a per-GB charge on active cache
 * (volumes used in the last 24 hours).
 *
 * @param input - builds, volumes, time and prices
 * @throws {@link CacheVolumeError} `INVALID_ARGUMENT` for negative or non-finite prices
 *
 * @example
 * ```ts
 * estimateBill({ builds: [{ buildId: 'b1', cacheDefinitions: 3 }], volumes: [], now: Date.now(),
 *   prices: { perBuild: 0.01, perActiveGb: 0.002 } }).total // 0.01
 * ```
 */
export function estimateBill(input: BillInput): Bill {
  for (const [key, price] of Object.entries(input.prices)) {
    if (!Number.isFinite(price) || price < 0) {
      throw new CacheVolumeError(
        'INVALID_ARGUMENT',
        `Price "${key}" must be a finite number >= 0, got ${price}.`,
        {
          details: { [key]: price },
        },
      );
    }
  }
  const billable = new Set(input.builds.filter((b) => b.cacheDefinitions > 0).map((b) => b.buildId));
  const activeBytes = input.volumes
    .filter((v) => input.now - v.lastUsedAt < DAY_MS)
    .reduce((sum, v) => sum + v.usedBytes, 0);
  const activeGb = activeBytes / GIB;
  const buildCost = billable.size * input.prices.perBuild;
  const storageCost = activeGb * input.prices.perActiveGb;
  return { billableBuilds: billable.size, buildCost, activeGb, storageCost, total: buildCost + storageCost };
}
