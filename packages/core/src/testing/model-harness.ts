import fc from 'fast-check';
import type { Backend } from '../contracts/backend.js';
import type { Store } from '../contracts/store.js';
import { CacheVolumes } from '../engine/cache-volumes.js';
import type { ForkHandle } from '../engine/fork-handle.js';
import { isCacheVolumeError } from '../errors.js';
import { DEFAULT_POLICY } from '../model/policy.js';
import { isLive, type VersionRecord, volumeKeyString } from '../model/state.js';
import { createMemoryStore } from '../store/memory-store.js';
import { crashable, SimulatedCrash } from './crash.js';
import type { FileAccess } from './file-access.js';
import {
  assertAbandonChangesNothing,
  assertCapacityFollowsSizeMath,
  assertReconciled,
  assertStateInvariants,
  type CommitRecord,
} from './invariants.js';
import { propertyParameters } from './parameters.js';
import { readAllSlices } from './read-all.js';

/** Options for {@link checkEngineModel}. */
export interface EngineModelOptions {
  /** A fresh, empty backend for each run. */
  createBackend: () => Backend | Promise<Backend>;
  /** Tears a backend down after each run. */
  destroyBackend?: (backend: Backend) => void | Promise<void>;
  /** File access inside forks, or a function giving it for a backend (in-memory backends). */
  files: FileAccess | ((backend: Backend) => FileAccess);
  /** A fresh store for each run. @defaultValue a memory store */
  createStore?: () => Store | Promise<Store>;
  /** Runs; `CACHEVOL_PROPERTY_RUNS` overrides it. @defaultValue 50 */
  numRuns?: number;
  /** Inject crashes between engine steps, then `reconcile()`. @defaultValue true */
  crashes?: boolean;
  /** Most commands per run. @defaultValue 40 */
  maxCommands?: number;
}

const VOLUMES = ['alpha', 'beta/gamma'] as const;
const SCOPE = 'default';
const PATHS = ['a.txt', 'dir/b.txt', 'dir/sub/c.txt'] as const;
const LEASE_MS = 2 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
/** How long the engine keeps ended fork records before `gc()` prunes them. */
const KEEP_ENDED_MS = 24 * HOUR;
/** Byte budgets (`maxTotalBytes`) a run may use; most runs have none. */
const BUDGETS = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 10, 30] as const;

type Content = Record<string, string>;

interface RefFork {
  id: string;
  volume: string;
  /** The version it was forked from, or `null` for an empty fork. */
  baseId: string | null;
  content: Content;
  expiresAt: number;
}

interface RefVersion {
  id: string;
  seq: number;
  content: Content;
  /** Bytes as the backend measured them at commit (the one input the model takes from it). */
  bytes: number;
  lastUsedAt: number;
}

/** A volume whose record exists: its commit counter and its versions in head order. */
interface RefVolume {
  seq: number;
  versions: RefVersion[];
}

/** The reference model: what the engine should show, kept as simply as possible. */
interface Model {
  now: number;
  /** `maxTotalBytes` of this run. */
  budget: number;
  volumes: Map<string, RefVolume>;
  /** Live forks. */
  forks: RefFork[];
  /** Ended forks not pruned yet, and when they ended. */
  ended: Map<string, number>;
  /** Ended forks that `gc()` pruned. */
  pruned: Set<string>;
}

/** The system under test: an engine over a backend and store, plus the test's own records. */
interface Real {
  backend: Backend;
  store: Store;
  files: FileAccess;
  clock: { now: number };
  ids: { next: number };
  budget: number;
  engine: CacheVolumes;
  log: CommitRecord[];
}

function engineFor(real: Real, backend: Backend, store: Store): CacheVolumes {
  return new CacheVolumes({
    backend,
    store,
    host: 'host-a',
    leaseMs: LEASE_MS,
    keepEndedMs: KEEP_ENDED_MS,
    policy: Number.isFinite(real.budget) ? { maxTotalBytes: real.budget } : {},
    clock: () => real.clock.now,
    newId: (kind) => `${kind === 'fork' ? 'f' : 'v'}-${++real.ids.next}`,
  });
}

function fail(message: string): never {
  throw new Error(`model mismatch: ${message}`);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

async function contentOf(files: FileAccess, mountPath: string): Promise<Content> {
  const out: Content = {};
  for (const path of await files.list(mountPath)) out[path] = (await files.read(mountPath, path)) ?? '';
  return out;
}

/**
 * What an attach gets under the default policy on one host: the newest version not idle for the
 * retention period (`hit` when it is the head, `stale` otherwise), or a miss.
 */
function expectedAttach(
  model: Model,
  volume: string,
): { result: 'hit' | 'stale' | 'miss'; base: RefVersion | null; content: Content } {
  const versions = model.volumes.get(volume)?.versions ?? [];
  for (let i = versions.length - 1; i >= 0; i--) {
    const version = versions[i] as RefVersion;
    if (model.now - version.lastUsedAt >= DEFAULT_POLICY.retentionMs) continue;
    return {
      result: i === versions.length - 1 ? 'hit' : 'stale',
      base: version,
      content: { ...version.content },
    };
  }
  return { result: 'miss', base: null, content: {} };
}

/** An attach began: the volume's record exists, and the parent it got was used now. */
function beginModelAttach(model: Model, volume: string): ReturnType<typeof expectedAttach> {
  const expected = expectedAttach(model, volume);
  if (!model.volumes.has(volume)) model.volumes.set(volume, { seq: 0, versions: [] });
  if (expected.base) expected.base.lastUsedAt = model.now;
  return expected;
}

/**
 * Checks an attach against the model and records the fork. With a `fallback` volume, a miss
 * gets what an attach of the fallback would (its version marked used), as the fork's source;
 * the fork's own base stays none, so nothing of the fallback is kept for it afterwards.
 */
async function recordAttach(
  model: Model,
  real: Real,
  volume: string,
  handle: ForkHandle,
  fallback?: string,
): Promise<void> {
  const expected = beginModelAttach(model, volume);
  const from =
    fallback !== undefined && expected.result === 'miss' ? expectedAttach(model, fallback) : undefined;
  if (from?.base) {
    from.base.lastUsedAt = model.now;
    expected.content = from.content;
  }
  same(handle.result, expected.result, `attach result for ${volume}`);
  same(handle.baseVersionId, expected.base?.id ?? null, `base version of a new fork of ${volume}`);
  same(
    handle.source?.versionId ?? null,
    from?.base?.id ?? null,
    `fallback source of a new fork of ${volume}`,
  );
  same(
    await contentOf(real.files, handle.mountPath),
    expected.content,
    `contents of a new fork of ${volume}`,
  );
  const slice = await real.store.read(handle);
  const base = handle.baseVersionId ? slice.volume?.versions[handle.baseVersionId] : undefined;
  assertCapacityFollowsSizeMath(handle.record, base?.usedBytes);
  model.forks.push({
    id: handle.id,
    volume,
    baseId: expected.base?.id ?? null,
    content: expected.content,
    expiresAt: model.now + LEASE_MS,
  });
}

function recordCommit(model: Model, real: Real, fork: RefFork, version: VersionRecord): void {
  const volume = model.volumes.get(fork.volume) ?? fail(`no volume ${fork.volume} for a commit`);
  volume.seq += 1;
  same(version.seq, volume.seq, `seq of the commit of ${fork.id}`);
  volume.versions.push({
    id: version.id,
    seq: volume.seq,
    content: { ...fork.content },
    bytes: version.usedBytes,
    lastUsedAt: model.now,
  });
  real.log.push({ scope: SCOPE, name: fork.volume, versionId: version.id });
  endFork(model, fork);
  settleVolumeRetention(model, fork.volume);
}

/**
 * What a commit removes from its volume afterwards, and gc from every volume: versions idle for
 * the retention period, and versions with {@link DEFAULT_POLICY}'s `maxVersionsPerVolume` or
 * more newer ones; never one a live fork was forked from.
 */
function settleVolumeRetention(model: Model, name: string): string[] {
  const volume = model.volumes.get(name);
  if (!volume) return [];
  const bases = new Set(model.forks.map((f) => f.baseId));
  const removed = volume.versions.filter(
    (version, i) =>
      !bases.has(version.id) &&
      (model.now - version.lastUsedAt >= DEFAULT_POLICY.retentionMs ||
        volume.versions.length - i > DEFAULT_POLICY.maxVersionsPerVolume),
  );
  volume.versions = volume.versions.filter((v) => !removed.includes(v));
  return removed.map((v) => v.id);
}

/** A live fork ended (committed or abandoned) now. */
function endFork(model: Model, fork: RefFork): void {
  model.forks = model.forks.filter((f) => f !== fork);
  model.ended.set(fork.id, model.now);
}

/** The forks whose lease ran out are abandoned (by gc, or by reconcile). */
function settleExpiredForks(m: Model): string[] {
  const expired = m.forks.filter((f) => f.expiresAt <= m.now);
  for (const fork of expired) endFork(m, fork);
  return expired.map((f) => f.id);
}

/**
 * What `gc()` removes after ending expired forks: in every volume what a commit removes from
 * its own (see {@link settleVolumeRetention}), then, while the rest use more than the budget, the least recently used (versions that are not
 * a head before heads, older commits first on a tie); never a version a live fork was forked
 * from. Volumes are visited in key order, versions in commit order.
 */
function settleRetention(m: Model): string[] {
  const byKey = (a: string, b: string) => {
    const [x, y] = [volumeKeyString({ scope: SCOPE, name: a }), volumeKeyString({ scope: SCOPE, name: b })];
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const names = [...m.volumes.keys()].sort(byKey);
  const removed = new Set(names.flatMap((name) => settleVolumeRetention(m, name)));
  const bases = new Set(m.forks.map((f) => f.baseId));
  const candidates: (RefVersion & { isHead: boolean })[] = [];
  let total = 0;
  for (const name of names) {
    const versions = (m.volumes.get(name) as RefVolume).versions;
    versions.forEach((version, i) => {
      total += version.bytes;
      if (!bases.has(version.id)) candidates.push({ ...version, isHead: i === versions.length - 1 });
    });
  }
  if (total > m.budget) {
    candidates.sort(
      (a, b) => Number(a.isHead) - Number(b.isHead) || a.lastUsedAt - b.lastUsedAt || a.seq - b.seq,
    );
    let left = total;
    for (const candidate of candidates) {
      if (left <= m.budget) break;
      removed.add(candidate.id);
      left -= candidate.bytes;
    }
  }
  for (const volume of m.volumes.values())
    volume.versions = volume.versions.filter((v) => !removed.has(v.id));
  return [...removed];
}

/** Ended fork records older than the keep period are pruned by `gc()`. */
function settlePruning(m: Model): number {
  let pruned = 0;
  for (const [id, endedAt] of m.ended) {
    if (endedAt >= m.now - KEEP_ENDED_MS) continue;
    m.ended.delete(id);
    m.pruned.add(id);
    pruned++;
  }
  return pruned;
}

/**
 * Between commands nothing is in flight, so the backend must hold exactly what the state owns;
 * and the state must be the model's: the same volumes, the same versions in head order with the
 * same last use, and every ended fork findable until pruned, never after.
 */
async function checkInvariants(model: Model, real: Real): Promise<void> {
  const slices = await readAllSlices(real.store);
  assertStateInvariants(slices, real.log);
  assertReconciled(slices, await real.backend.list());
  const actual: Record<string, [string, number][]> = {};
  for (const { volume } of slices) {
    if (!volume) continue;
    actual[volume.name] = volume.versionIds.map((id) => [id, volume.versions[id]?.lastUsedAt ?? Number.NaN]);
  }
  const expected: Record<string, [string, number][]> = {};
  for (const [name, volume] of model.volumes)
    expected[name] = volume.versions.map((v) => [v.id, v.lastUsedAt]);
  same(actual, expected, 'volumes and their versions (id, lastUsedAt)');
  for (const id of model.ended.keys()) {
    const fork = await real.store.findFork(id);
    if (!fork || isLive(fork))
      fail(`ended fork ${id} should be kept as ended, got ${fork?.state ?? 'nothing'}`);
  }
  for (const id of model.pruned) {
    if (await real.store.findFork(id)) fail(`fork ${id} should have been pruned`);
  }
}

/** The engine's live forks are exactly the model's. */
async function sameLiveForks(model: Model, real: Real): Promise<void> {
  const actual = (await real.engine.forks()).map((f) => f.id).sort();
  same(actual, model.forks.map((f) => f.id).sort(), 'live forks');
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Attach implements Cmd {
  constructor(readonly volume: string) {}
  check = (m: Readonly<Model>) => m.forks.length < 5;
  async run(m: Model, r: Real) {
    const handle = await r.engine.attach(this.volume, { job: 'job' });
    await recordAttach(m, r, this.volume, handle);
    await checkInvariants(m, r);
  }
  toString = () => `attach(${this.volume})`;
}

/** Attaches a volume with another as its fallback (see `AttachOptions.fallbacks`). */
class AttachWithFallback implements Cmd {
  constructor(
    readonly volume: string,
    readonly fallback: string,
  ) {}
  check = (m: Readonly<Model>) => m.forks.length < 5;
  async run(m: Model, r: Real) {
    const handle = await r.engine.attach(this.volume, { job: 'job', fallbacks: [this.fallback] });
    await recordAttach(m, r, this.volume, handle, this.fallback);
    await checkInvariants(m, r);
  }
  toString = () => `attach(${this.volume}, fallback ${this.fallback})`;
}

class Write implements Cmd {
  constructor(
    readonly fork: number,
    readonly path: string,
    readonly text: string | null,
  ) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    const handle = await r.engine.fork(fork.id);
    if (this.text === null) {
      await r.files.remove(handle.mountPath, this.path);
      delete fork.content[this.path];
    } else {
      await r.files.write(handle.mountPath, this.path, this.text);
      fork.content[this.path] = this.text;
    }
  }
  toString = () =>
    this.text === null
      ? `rm(#${this.fork}, ${this.path})`
      : `write(#${this.fork}, ${this.path}, ${JSON.stringify(this.text)})`;
}

class CheckIsolation implements Cmd {
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    for (const fork of m.forks) {
      const handle = await r.engine.fork(fork.id);
      same(await contentOf(r.files, handle.mountPath), fork.content, `contents of fork ${fork.id}`);
    }
  }
  toString = () => 'checkIsolation';
}

class Finish implements Cmd {
  constructor(
    readonly fork: number,
    readonly exitCode: number,
  ) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    const before = await readAllSlices(r.store);
    const outcome = await r.engine.finish(fork.id, this.exitCode);
    if (this.exitCode === 0) {
      same(outcome.action, 'committed', 'finish(0)');
      recordCommit(m, r, fork, outcome.version ?? fail('no version'));
    } else {
      same(outcome.action, 'abandoned', `finish(${this.exitCode})`);
      endFork(m, fork);
      assertAbandonChangesNothing(before, await readAllSlices(r.store));
    }
    for (const again of [() => r.engine.commit(fork.id), () => r.engine.finish(fork.id, 0)]) {
      const error = await again().then(
        () => null,
        (e: unknown) => e,
      );
      if (!isCacheVolumeError(error, 'CONFLICT'))
        fail(`a second commit of ${fork.id} should be CONFLICT, got ${String(error)}`);
    }
    await checkInvariants(m, r);
  }
  toString = () => `finish(#${this.fork}, ${this.exitCode})`;
}

class FinishBoth implements Cmd {
  constructor(
    readonly a: number,
    readonly b: number,
  ) {}
  check = (m: Readonly<Model>) => m.forks.length > 1;
  async run(m: Model, r: Real) {
    const first = m.forks[this.a % m.forks.length] as RefFork;
    const second = m.forks[(this.a + 1 + (this.b % (m.forks.length - 1))) % m.forks.length] as RefFork;
    const [x, y] = await Promise.all([r.engine.finish(first.id, 0), r.engine.finish(second.id, 0)]);
    const vx = x.version ?? fail('no version');
    const vy = y.version ?? fail('no version');
    // "Last write" wins: whichever commit completed last (higher seq on the same volume).
    const ordered =
      vx.seq <= vy.seq || first.volume !== second.volume
        ? ([
            [first, vx],
            [second, vy],
          ] as const)
        : ([
            [second, vy],
            [first, vx],
          ] as const);
    for (const [fork, version] of ordered) recordCommit(m, r, fork, version);
    await checkInvariants(m, r);
  }
  toString = () => `finishBoth(#${this.a}, #${this.b})`;
}

class Abandon implements Cmd {
  constructor(readonly fork: number) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    const before = await readAllSlices(r.store);
    await r.engine.abandon(fork.id);
    await r.engine.abandon(fork.id);
    endFork(m, fork);
    assertAbandonChangesNothing(before, await readAllSlices(r.store));
    const error = await r.engine.commit(fork.id).then(
      () => null,
      (e: unknown) => e,
    );
    if (!isCacheVolumeError(error, 'CONFLICT'))
      fail(`commit after abandon should be CONFLICT, got ${String(error)}`);
    await checkInvariants(m, r);
  }
  toString = () => `abandon(#${this.fork})`;
}

class Heartbeat implements Cmd {
  constructor(readonly fork: number) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    await heartbeat(m, r, fork);
  }
  toString = () => `heartbeat(#${this.fork})`;
}

/** Renews a fork's lease: it ends a lease length from now, and never earlier than it did. */
async function heartbeat(m: Model, r: Real, fork: RefFork): Promise<void> {
  const expiresAt = await r.engine.heartbeat(fork.id);
  fork.expiresAt = Math.max(fork.expiresAt, m.now + LEASE_MS);
  same(expiresAt, fork.expiresAt, 'lease end after heartbeat');
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.now += this.ms;
    r.clock.now = m.now;
  }
  toString = () => `advance(${Math.round(this.ms / HOUR)}h)`;
}

/** Runs `gc()` and checks every part of its report against the model. */
async function gc(m: Model, r: Real): Promise<void> {
  const report = await r.engine.gc();
  same([...report.expiredForks].sort(), settleExpiredForks(m).sort(), 'forks abandoned by gc');
  same(
    report.removedVersions.map((v) => v.versionId).sort(),
    settleRetention(m).sort(),
    'versions removed by gc (retention and byte budget)',
  );
  same(report.prunedForks, settlePruning(m), 'ended forks pruned by gc');
}

class Gc implements Cmd {
  check = () => true;
  async run(m: Model, r: Real) {
    await gc(m, r);
    await checkInvariants(m, r);
    await sameLiveForks(m, r);
  }
  toString = () => 'gc';
}

/**
 * Moves the clock to a fork's lease end (one ms before, at, or one ms after it; never back),
 * then renews the lease or runs gc: a lease is over at `expiresAt`, not a millisecond before.
 */
class LeaseEdge implements Cmd {
  constructor(
    readonly fork: number,
    readonly offset: -1 | 0 | 1,
    readonly then: 'heartbeat' | 'gc',
  ) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    m.now = Math.max(m.now, fork.expiresAt + this.offset);
    r.clock.now = m.now;
    if (this.then === 'heartbeat') {
      await heartbeat(m, r, fork);
    } else {
      await gc(m, r);
      await checkInvariants(m, r);
      await sameLiveForks(m, r);
    }
  }
  toString = () => `leaseEdge(#${this.fork}, ${this.offset}ms, ${this.then})`;
}

/**
 * Moves the clock to when a volume's head has been idle for the retention period (one ms
 * before, or exactly then; never back), then attaches or runs gc: a version idle exactly the
 * retention period is expired (never selected, removed by gc).
 */
class RetentionEdge implements Cmd {
  constructor(
    readonly volume: string,
    readonly offset: -1 | 0,
    readonly then: 'attach' | 'gc',
  ) {}
  check = (m: Readonly<Model>) => (m.volumes.get(this.volume)?.versions.length ?? 0) > 0;
  async run(m: Model, r: Real) {
    const versions = (m.volumes.get(this.volume) as RefVolume).versions;
    const head = versions[versions.length - 1] as RefVersion;
    m.now = Math.max(m.now, head.lastUsedAt + DEFAULT_POLICY.retentionMs + this.offset);
    r.clock.now = m.now;
    if (this.then === 'attach' && m.forks.length < 5) {
      await recordAttach(m, r, this.volume, await r.engine.attach(this.volume, { job: 'job' }));
    } else {
      await gc(m, r);
      await sameLiveForks(m, r);
    }
    await checkInvariants(m, r);
  }
  toString = () => `retentionEdge(${this.volume}, ${this.offset}ms, ${this.then})`;
}

/** Removes a whole volume: its live forks are abandoned, its versions removed, its record dropped. */
class RemoveVolume implements Cmd {
  constructor(readonly volume: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const exists = m.volumes.get(this.volume);
    const outcome = await r.engine.removeVolume(this.volume).then(
      (ids) => ({ ids }),
      (error: unknown) => ({ error }),
    );
    if (!exists) {
      if (!('error' in outcome) || !isCacheVolumeError(outcome.error, 'NOT_FOUND'))
        fail(`removing the absent volume ${this.volume} should be NOT_FOUND, got ${JSON.stringify(outcome)}`);
    } else {
      if ('error' in outcome) throw outcome.error;
      same(
        outcome.ids,
        exists.versions.map((v) => v.id),
        `versions removed with ${this.volume}`,
      );
      settleRemoveVolume(m, this.volume);
    }
    await checkInvariants(m, r);
    await sameLiveForks(m, r);
  }
  toString = () => `removeVolume(${this.volume})`;
}

function settleRemoveVolume(m: Model, volume: string): void {
  for (const fork of m.forks.filter((f) => f.volume === volume)) endFork(m, fork);
  m.volumes.delete(volume);
}

/** A late commit of an ended fork is a CONFLICT while its record is kept, NOT_FOUND once pruned. */
class LateCommit implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.ended.size + m.pruned.size > 0;
  async run(m: Model, r: Real) {
    const ids = [...m.ended.keys(), ...m.pruned];
    const id = ids[this.index % ids.length] as string;
    const error = await r.engine.commit(id).then(
      () => null,
      (e: unknown) => e,
    );
    const code = m.pruned.has(id) ? 'NOT_FOUND' : 'CONFLICT';
    if (!isCacheVolumeError(error, code))
      fail(`a late commit of ${id} should be ${code}, got ${String(error)}`);
  }
  toString = () => `lateCommit(#${this.index})`;
}

type CrashOp = 'attach' | 'commit' | 'abandon' | 'gc' | 'removeVolume';

class Crash implements Cmd {
  constructor(
    readonly op: CrashOp,
    readonly fork: number,
    readonly volume: string,
    readonly steps: number,
  ) {}
  check = (m: Readonly<Model>) =>
    this.op === 'attach' || this.op === 'gc' || this.op === 'removeVolume' || m.forks.length > 0;
  async run(m: Model, r: Real) {
    const dying = crashable(r.backend, r.store, this.steps);
    const engine = engineFor(r, dying.backend, dying.store);
    const fork = m.forks.length > 0 ? (m.forks[this.fork % m.forks.length] as RefFork) : undefined;
    const firstId = r.ids.next + 1;
    const work: Record<CrashOp, () => Promise<unknown>> = {
      attach: () => engine.attach(this.volume, { job: 'doomed' }),
      commit: () => engine.finish((fork as RefFork).id, 0),
      abandon: () => engine.abandon((fork as RefFork).id),
      gc: () => engine.gc(),
      removeVolume: () => engine.removeVolume(this.volume),
    };
    try {
      await work[this.op]();
    } catch (error) {
      const absent = this.op === 'removeVolume' && isCacheVolumeError(error, 'NOT_FOUND');
      if (!(error instanceof SimulatedCrash) && !absent) throw error;
    }
    // A new process starts and repairs what the dead one left.
    const report = await r.engine.reconcile({ force: true });
    if (report.errors.length > 0) fail(`reconcile errors: ${JSON.stringify(report.errors)}`);
    // Reconcile also ends the forks whose lease ran out, as gc does.
    settleExpiredForks(m);
    if (this.op === 'attach') {
      beginModelAttach(m, this.volume);
      // The job that attached is gone too: its lease would run out; abandon it now.
      const orphan = `f-${firstId}`;
      const record = await r.store.findFork(orphan);
      if (!record) fail(`a crashed attach left no record of ${orphan}`);
      if (isLive(record)) await r.engine.abandon(orphan);
      m.ended.set(orphan, m.now);
    } else if (this.op === 'commit' && fork) {
      const record = await r.store.findFork(fork.id);
      if (record?.state !== 'committed' || !record.versionId)
        fail(`a crashed commit of ${fork.id} ended ${record?.state}`);
      const version = (await r.store.read(record)).volume?.versions[record.versionId];
      recordCommit(m, r, fork, version ?? fail(`no version ${record.versionId}`));
      // The dead process may not have got to removing its volume's old versions; gc does.
      await r.engine.gc();
      settleRetention(m);
      settlePruning(m);
    } else if (this.op === 'abandon' && fork) {
      same(
        (await r.store.findFork(fork.id))?.state,
        'abandoned',
        `state of ${fork.id} after a crashed abandon`,
      );
      endFork(m, fork);
    } else if (this.op === 'removeVolume') {
      // The job retries: the volume goes whole, or was already gone when the crash came last.
      const exists = m.volumes.has(this.volume);
      await r.engine.removeVolume(this.volume).catch((error: unknown) => {
        if (!isCacheVolumeError(error, 'NOT_FOUND')) throw error;
      });
      if (exists) settleRemoveVolume(m, this.volume);
    } else {
      // The gc that died removed some of what it planned; a full gc at the same time finishes it.
      await r.engine.gc();
      settleRetention(m);
      settlePruning(m);
    }
    await checkInvariants(m, r);
    await sameLiveForks(m, r);
  }
  toString = () => `crash(${this.op}, #${this.fork}, ${this.volume}, after ${this.steps} steps)`;
}

function commandArbitraries(crashes: boolean): fc.Arbitrary<Cmd>[] {
  const volume = fc.constantFrom(...VOLUMES);
  const index = fc.nat(9);
  const text = fc.string({ unit: fc.constantFrom(...'abcxyz012 '.split('')), maxLength: 8 });
  const list: fc.Arbitrary<Cmd>[] = [
    volume.map((v) => new Attach(v)),
    volume.map((v) => new Attach(v)),
    volume.map((v) => new AttachWithFallback(v, VOLUMES.find((other) => other !== v) as string)),
    fc
      .tuple(index, fc.constantFrom(...PATHS), fc.option(text, { freq: 4 }))
      .map(([i, p, t]) => new Write(i, p, t)),
    fc.tuple(index, fc.constantFrom(...PATHS), text).map(([i, p, t]) => new Write(i, p, t)),
    fc.constant(new CheckIsolation()),
    fc.tuple(index, fc.constantFrom(0, 0, 1, 2)).map(([i, code]) => new Finish(i, code)),
    index.map((i) => new Finish(i, 0)),
    fc.tuple(index, index).map(([a, b]) => new FinishBoth(a, b)),
    index.map((i) => new Abandon(i)),
    index.map((i) => new Heartbeat(i)),
    fc
      .tuple(
        index,
        fc.constantFrom(-1 as const, 0 as const, 1 as const),
        fc.constantFrom('heartbeat' as const, 'gc' as const),
      )
      .map(([i, offset, then]) => new LeaseEdge(i, offset, then)),
    // A day is the time ended fork records are kept: gc after it finds some exactly at the edge.
    fc.constantFrom(HOUR, 3 * HOUR, KEEP_ENDED_MS, 2 * 24 * HOUR, 8 * 24 * HOUR).map((ms) => new Advance(ms)),
    fc
      .tuple(
        volume,
        fc.constantFrom(-1 as const, 0 as const),
        fc.constantFrom('attach' as const, 'gc' as const),
      )
      .map(([v, offset, then]) => new RetentionEdge(v, offset, then)),
    fc.constant(new Gc()),
    volume.map((v) => new RemoveVolume(v)),
    index.map((i) => new LateCommit(i)),
  ];
  if (crashes) {
    list.push(
      fc
        .tuple(
          fc.constantFrom<CrashOp>('attach', 'commit', 'abandon', 'gc', 'removeVolume'),
          index,
          volume,
          fc.nat(4),
        )
        .map(([op, i, v, s]) => new Crash(op, i, v, s)),
    );
  }
  return list;
}

/**
 * Model-based test of `CacheVolumes` over a backend: fast-check generates sequences of attach,
 * write, finish (exit 0 or not), concurrent finishes, abandon, heartbeat, clock advances (also
 * to a millisecond around a lease's end), gc (which abandons expired forks, removes versions by
 * retention and, in some runs, under a byte budget, and prunes old ended forks), late commits
 * of ended or pruned forks, removal of whole volumes, and crashes injected between engine steps
 * followed by `reconcile()`. After each command the engine is compared with a small reference
 * model (fork contents, hit/stale/miss, every volume's versions in head order with their last
 * use, what gc abandoned, removed and pruned) and every state invariant is checked. Failures
 * print fast-check's seed and path; replay them with `CACHEVOL_SEED` and `CACHEVOL_PATH`.
 *
 * @param options - backend factory, file access, runs
 *
 * @example
 * ```ts
 * it('matches the model', () => checkEngineModel({ createBackend: () => createMemoryBackend(), files: (b) => memoryFileAccess(b as MemoryBackend) }))
 * ```
 */
export async function checkEngineModel(options: EngineModelOptions): Promise<void> {
  const commands = fc.commands(commandArbitraries(options.crashes ?? true), {
    maxCommands: options.maxCommands ?? 40,
    size: 'large',
  });
  await fc.assert(
    fc.asyncProperty(commands, fc.constantFrom(...BUDGETS), async (cmds, budget) => {
      const backend = await options.createBackend();
      try {
        const store = await (options.createStore ?? createMemoryStore)();
        const files = typeof options.files === 'function' ? options.files(backend) : options.files;
        const start = 1_700_000_000_000;
        const real = {
          backend,
          store,
          files,
          clock: { now: start },
          ids: { next: 0 },
          budget,
          log: [],
        } as unknown as Real;
        real.engine = engineFor(real, backend, store);
        const model: Model = {
          now: start,
          budget,
          volumes: new Map(),
          forks: [],
          ended: new Map(),
          pruned: new Set(),
        };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          await store.close();
        }
      } finally {
        await options.destroyBackend?.(backend);
      }
    }),
    propertyParameters(options.numRuns ?? 50),
  );
}
