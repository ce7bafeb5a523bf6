import type { Policy } from './policy.js';
import type { AttachResult, ForkRecord, VersionRecord, VolumeRecord } from './state.js';
import { isLive } from './state.js';

/** Why a version was, or was not, chosen. */
export type SelectionReason = 'head' | 'head-unavailable' | 'no-versions' | 'none-usable';

/** The outcome of {@link selectParent}. */
export interface Selection {
  /** `hit` (the head), `stale` (an older version) or `miss` (start empty). */
  result: AttachResult;
  /** The chosen version; `null` on a miss. */
  version: VersionRecord | null;
  /** Why: `head`, `head-unavailable` (a stale pick), `no-versions` or `none-usable` (misses). */
  reason: SelectionReason;
}

/** Who asks, and when. */
export interface SelectionRequest {
  /** The requesting host. */
  host: string;
  /** The current time (ms since epoch). */
  now: number;
}

/**
 * The head of a volume: its last committed version in head order (`versionIds`), or
 * `undefined`. Walks `versionIds` from the newest, so it usually looks at one version.
 *
 * @param volume - the volume, or `undefined` when it does not exist yet
 */
export function headOf(volume: VolumeRecord | undefined): VersionRecord | undefined {
  if (!volume) return undefined;
  const { versionIds, versions } = volume;
  // Stryker disable next-line ArithmeticOperator: starting past the end only visits ids without a record, which are skipped
  for (let i = versionIds.length - 1; i >= 0; i--) {
    const version = versions[versionIds[i] as string];
    if (version?.state === 'committed') return version;
  }
  return undefined;
}

/**
 * Tells whether a version has been idle past the retention period.
 *
 * @param version - the version
 * @param now - current time (ms)
 * @param retentionMs - the retention period
 */
export function isExpired(version: VersionRecord, now: number, retentionMs: number): boolean {
  return now - version.lastUsedAt >= retentionMs;
}

/**
 * Best-effort parent selection: a pure function of the volume, its live forks, the requesting
 * host, the policy and the time. It never returns an expired, removed or uncommitted version.
 * It prefers the head; otherwise it takes the newest usable version (local to the host unless
 * the policy allows transfer, under the usage bound, within the staleness bounds); otherwise it
 * is a miss.
 *
 * Walks the versions from the newest (`versionIds`) and stops at the first usable one, or once
 * they are more than `maxStaleVersions` behind the head: a hit looks at one version whatever
 * their number, a stale pick at the versions it skips. Only a miss with no staleness bound looks
 * at every version. Live forks are counted in one pass, and only when `maxForksPerVersion` is
 * finite.
 *
 * @param volume - the volume, or `undefined` when it has never been committed
 * @param forks - forks of any volume; only live forks of this volume's versions count
 * @param request - requesting host and time
 * @param policy - selection policy
 */
export function selectParent(
  volume: VolumeRecord | undefined,
  forks: Iterable<ForkRecord>,
  request: SelectionRequest,
  policy: Policy,
): Selection {
  const head = headOf(volume);
  if (!volume || !head) return { result: 'miss', version: null, reason: 'no-versions' };

  const usage = new Map<string, number>();
  // Stryker disable next-line ConditionalExpression: a shortcut; no count reaches an infinite bound
  if (Number.isFinite(policy.maxForksPerVersion)) {
    for (const fork of forks) {
      if (fork.baseId && isLive(fork) && fork.scope === volume.scope && fork.name === volume.name) {
        usage.set(fork.baseId, (usage.get(fork.baseId) ?? 0) + 1);
      }
    }
  }

  let best: VersionRecord | undefined;
  const { versionIds, versions } = volume;
  let behind = -1; // committed versions between the head and this one
  // Stryker disable next-line ArithmeticOperator: starting past the end only visits ids without a record, which are skipped
  for (let i = versionIds.length - 1; i >= 0 && !best; i--) {
    const version = versions[versionIds[i] as string];
    if (version?.state !== 'committed') continue;
    if (++behind > policy.maxStaleVersions) break;
    if (isExpired(version, request.now, policy.retentionMs)) continue;
    if (!policy.transfer && !version.hosts.includes(request.host)) continue;
    if ((usage.get(version.id) ?? 0) >= policy.maxForksPerVersion) continue;
    if (version !== head && request.now - version.committedAt > policy.maxStaleMs) continue;
    best = version;
  }
  if (!best) return { result: 'miss', version: null, reason: 'none-usable' };
  if (best === head) return { result: 'hit', version: best, reason: 'head' };
  return { result: 'stale', version: best, reason: 'head-unavailable' };
}
