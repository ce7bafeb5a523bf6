import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { type AttachPlan, type PlacementSource, planAttach } from '../model/placement.js';
import type { VersionRecord, VolumeKey, VolumeRecord } from '../model/state.js';
import type { EngineContext } from './context.js';
import { type PullReport, pullVersion, type VersionSource } from './transfer.js';

/**
 * The engine's side of selection that weighs transfer (see `model/placement.ts`): before an
 * attach, a head that only other hosts hold is pulled within the attach's budget, or fetched in
 * the background while the attach takes what this host holds. A fetch that outlasts the budget
 * goes on in the background; `idle()` waits for every fetch.
 */

/** Throughput assumed before a transfer was measured: 32 MiB/s. */
export const DEFAULT_BYTES_PER_SECOND = 32 * 2 ** 20;
/** Set-up cost of a transfer assumed in estimates, ms. */
export const DEFAULT_SETUP_MS = 250;
/** How long an attach waits for a pull by default, ms. */
export const DEFAULT_TRANSFER_BUDGET_MS = 30_000;

/** How an engine reaches versions that other hosts hold (see `CacheVolumesOptions.fleet`). */
export interface FleetOptions {
  /**
   * Other hosts' agents, by host name (`httpVersionSource` of each host's `serveVersions`): an
   * attach pulls a head this host lacks from the first of them that holds it.
   */
  peers?: Readonly<Record<string, VersionSource>>;
  /**
   * How long an attach waits for a pull before it takes the best version this host holds (stale
   * or miss); the pull goes on in the background.
   * @defaultValue 30 s
   */
  budgetMs?: number;
  /**
   * Throughput assumed until this engine has measured one, bytes per second.
   * @defaultValue 32 MiB/s
   */
  bytesPerSecond?: number;
}

/** The object store as a second way to get a version (tried after the peers). */
export interface ObjectsTier {
  /** Whether the object store holds what `version` needs to be restored on this host. */
  restorable(volume: VolumeRecord, version: VersionRecord): boolean;
  /** Restores a version to this host from the object store. */
  pull(key: VolumeKey, versionId: string): Promise<PullReport>;
}

/** What {@link Fleet.prepare} did before an attach. */
export interface Preparation {
  /** The plan. */
  plan: AttachPlan;
  /** `true` when the head arrived within the budget (the attach then hits). */
  pulled: boolean;
}

/** A fetch of a head: the engine-wide record of it, so it runs once per version. */
interface Fetch {
  done: Promise<PullReport | null>;
}

/** Pulls and prefetches for one engine. */
export class Fleet {
  readonly #fetches = new Map<string, Fetch>();
  #bytesPerSecond: number;

  constructor(
    private readonly ctx: EngineContext,
    private readonly host: string,
    private readonly options: FleetOptions,
    private readonly objects?: ObjectsTier,
  ) {
    this.#bytesPerSecond = options.bytesPerSecond ?? DEFAULT_BYTES_PER_SECOND;
  }

  /** The throughput estimates use now: the last measured pull's, else the configured one. */
  get bytesPerSecond(): number {
    return this.#bytesPerSecond;
  }

  /**
   * Plans an attach of `key` on `host` and acts on the plan: pulls the head within the budget
   * (`pull`) or starts fetching it in the background (`prefetch`). Never throws for a transfer
   * that failed: that is a `warning` event, and the attach takes what this host holds.
   *
   * @param key - the volume
   * @param host - the attaching host (a fetch only runs for this engine's own host)
   */
  async prepare(key: VolumeKey, host: string): Promise<Preparation> {
    const slice = await this.ctx.store.read(key);
    const plan = planAttach(
      slice.volume ?? undefined,
      Object.values(slice.forks),
      { host, now: this.ctx.clock() },
      this.ctx.policy,
      {
        peers: Object.keys(this.options.peers ?? {}),
        restorable: (volume, version) => this.objects?.restorable(volume, version) ?? false,
        bytesPerSecond: this.#bytesPerSecond,
        setupMs: DEFAULT_SETUP_MS,
        budgetMs: this.options.budgetMs ?? DEFAULT_TRANSFER_BUDGET_MS,
      },
    );
    if (plan.action === 'local' || !plan.head || host !== this.host) return { plan, pulled: false };
    const fetch = this.#fetch(key, plan.head.id, plan.sources, plan.action);
    if (plan.action === 'prefetch') return { plan, pulled: false };
    const budgetMs = this.options.budgetMs ?? DEFAULT_TRANSFER_BUDGET_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), budgetMs);
    });
    const outcome = await Promise.race([fetch.done, late]).finally(() => clearTimeout(timer));
    if (outcome === 'late') {
      this.#warn(
        `The pull of version "${plan.head.id}" of volume "${key.name}" (scope "${key.scope}") did not finish within ${budgetMs} ms; attaching what this host holds, and the pull goes on in the background.`,
        new CacheVolumeError('BACKEND_UNAVAILABLE', `pull ran past its budget of ${budgetMs} ms`),
      );
    }
    return { plan, pulled: outcome !== 'late' && outcome !== null };
  }

  /** Waits for every fetch under way. */
  async idle(): Promise<void> {
    while (this.#fetches.size > 0) await Promise.all([...this.#fetches.values()].map((f) => f.done));
  }

  /** Starts (or joins) the fetch of a version from its sources, in order. */
  #fetch(
    key: VolumeKey,
    versionId: string,
    sources: readonly PlacementSource[],
    action: 'pull' | 'prefetch',
  ): Fetch {
    const id = `${key.scope}/${key.name}/${versionId}`;
    const running = this.#fetches.get(id);
    if (running) return running;
    const fetch: Fetch = { done: this.#fetchFrom(key, versionId, sources, action) };
    this.#fetches.set(id, fetch);
    void fetch.done.finally(() => this.#fetches.delete(id));
    return fetch;
  }

  async #fetchFrom(
    key: VolumeKey,
    versionId: string,
    sources: readonly PlacementSource[],
    action: 'pull' | 'prefetch',
  ): Promise<PullReport | null> {
    const failures: string[] = [];
    for (const source of sources) {
      const started = performance.now();
      try {
        const report =
          source.kind === 'objects'
            ? await (this.objects as ObjectsTier).pull(key, versionId)
            : await pullVersion(
                this.ctx,
                this.host,
                key,
                versionId,
                (this.options.peers as Record<string, VersionSource>)[source.host] as VersionSource,
              );
        const ms = performance.now() - started;
        if (report.bytes > 2 ** 20 && ms > 0) this.#bytesPerSecond = (report.bytes / ms) * 1000;
        const from = source.kind === 'peer' ? source.host : 'objects';
        const { bytes, baseId } = report;
        this.ctx.events.emit('transfer', { volume: key, versionId, from, action, bytes, baseId, ms });
        return report;
      } catch (error) {
        // Another pull of it here got there first: it is not this fetch's to finish.
        if (isCacheVolumeError(error, 'CONFLICT')) return null;
        failures.push(
          `${source.kind === 'peer' ? `host "${source.host}"` : 'the object store'}: ${String(error instanceof Error ? error.message : error)}`,
        );
      }
    }
    this.#warn(
      `Could not fetch version "${versionId}" of volume "${key.name}" (scope "${key.scope}") to this host: ${failures.join('; ')}`,
      new CacheVolumeError('BACKEND_FAILED', failures.join('; ')),
    );
    return null;
  }

  #warn(message: string, error: CacheVolumeError): void {
    this.ctx.events.emit('warning', { message, error });
  }
}
