import fc from 'fast-check';
import type { Backend } from '../contracts/backend.js';
import type { Store } from '../contracts/store.js';
import { CacheVolumes } from '../engine/cache-volumes.js';
import type { ForkHandle } from '../engine/fork-handle.js';
import { isCacheVolumeError } from '../errors.js';
import { DEFAULT_POLICY } from '../model/policy.js';
import { isLive } from '../model/state.js';
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
const PATHS = ['a.txt', 'dir/b.txt', 'dir/sub/c.txt'] as const;
const LEASE_MS = 2 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

type Content = Record<string, string>;

interface RefFork {
  id: string;
  volume: string;
  content: Content;
  expiresAt: number;
}

/** The reference model: what the engine should show, kept as simply as possible. */
interface Model {
  now: number;
  heads: Map<string, { content: Content; lastUsedAt: number }>;
  forks: RefFork[];
}

/** The system under test: an engine over a backend and store, plus the test's own records. */
interface Real {
  backend: Backend;
  store: Store;
  files: FileAccess;
  clock: { now: number };
  ids: { next: number };
  engine: CacheVolumes;
  log: CommitRecord[];
}

function engineFor(real: Real, backend: Backend, store: Store): CacheVolumes {
  return new CacheVolumes({
    backend,
    store,
    host: 'host-a',
    leaseMs: LEASE_MS,
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

function expectedAttach(model: Model, volume: string): { result: 'hit' | 'miss'; content: Content } {
  const head = model.heads.get(volume);
  if (head && model.now - head.lastUsedAt < DEFAULT_POLICY.retentionMs)
    return { result: 'hit', content: { ...head.content } };
  return { result: 'miss', content: {} };
}

async function recordAttach(model: Model, real: Real, volume: string, handle: ForkHandle): Promise<void> {
  const expected = expectedAttach(model, volume);
  same(handle.result, expected.result, `attach result for ${volume}`);
  same(
    await contentOf(real.files, handle.mountPath),
    expected.content,
    `contents of a new fork of ${volume}`,
  );
  const slice = await real.store.read(handle);
  const base = handle.baseVersionId ? slice.volume?.versions[handle.baseVersionId] : undefined;
  assertCapacityFollowsSizeMath(handle.record, base?.usedBytes);
  const head = model.heads.get(volume);
  if (head && expected.result === 'hit') head.lastUsedAt = model.now;
  model.forks.push({ id: handle.id, volume, content: expected.content, expiresAt: model.now + LEASE_MS });
}

function recordCommit(model: Model, real: Real, fork: RefFork, versionId: string): void {
  model.heads.set(fork.volume, { content: { ...fork.content }, lastUsedAt: model.now });
  const [scope, name] = ['default', fork.volume];
  real.log.push({ scope, name, versionId });
}

function dropFork(model: Model, fork: RefFork): void {
  model.forks = model.forks.filter((f) => f !== fork);
}

/** Between commands nothing is in flight, so the backend must hold exactly what the state owns. */
async function checkInvariants(real: Real): Promise<void> {
  const slices = await readAllSlices(real.store);
  assertStateInvariants(slices, real.log);
  assertReconciled(slices, await real.backend.list());
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
    await checkInvariants(r);
  }
  toString = () => `attach(${this.volume})`;
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
    dropFork(m, fork);
    if (this.exitCode === 0) {
      same(outcome.action, 'committed', 'finish(0)');
      recordCommit(m, r, fork, outcome.version?.id ?? fail('no version'));
    } else {
      same(outcome.action, 'abandoned', `finish(${this.exitCode})`);
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
    await checkInvariants(r);
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
    dropFork(m, first);
    dropFork(m, second);
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
    for (const [fork, version] of ordered) recordCommit(m, r, fork, version.id);
    await checkInvariants(r);
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
    dropFork(m, fork);
    assertAbandonChangesNothing(before, await readAllSlices(r.store));
    const error = await r.engine.commit(fork.id).then(
      () => null,
      (e: unknown) => e,
    );
    if (!isCacheVolumeError(error, 'CONFLICT'))
      fail(`commit after abandon should be CONFLICT, got ${String(error)}`);
    await checkInvariants(r);
  }
  toString = () => `abandon(#${this.fork})`;
}

class Heartbeat implements Cmd {
  constructor(readonly fork: number) {}
  check = (m: Readonly<Model>) => m.forks.length > 0;
  async run(m: Model, r: Real) {
    const fork = m.forks[this.fork % m.forks.length] as RefFork;
    const expiresAt = await r.engine.heartbeat(fork.id);
    fork.expiresAt = Math.max(fork.expiresAt, m.now + LEASE_MS);
    same(expiresAt, fork.expiresAt, 'lease end after heartbeat');
  }
  toString = () => `heartbeat(#${this.fork})`;
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

function settleGc(m: Model): void {
  for (const fork of [...m.forks]) if (fork.expiresAt <= m.now) dropFork(m, fork);
}

class Gc implements Cmd {
  check = () => true;
  async run(m: Model, r: Real) {
    const report = await r.engine.gc();
    const expected = m.forks
      .filter((f) => f.expiresAt <= m.now)
      .map((f) => f.id)
      .sort();
    same([...report.expiredForks].sort(), expected, 'forks abandoned by gc');
    settleGc(m);
    await checkInvariants(r);
    await sameLiveForks(m, r);
  }
  toString = () => 'gc';
}

type CrashOp = 'attach' | 'commit' | 'abandon' | 'gc';

class Crash implements Cmd {
  constructor(
    readonly op: CrashOp,
    readonly fork: number,
    readonly volume: string,
    readonly steps: number,
  ) {}
  check = (m: Readonly<Model>) => this.op === 'attach' || this.op === 'gc' || m.forks.length > 0;
  async run(m: Model, r: Real) {
    const dying = crashable(r.backend, r.store, this.steps);
    const engine = engineFor(r, dying.backend, dying.store);
    const fork = m.forks.length > 0 ? (m.forks[this.fork % m.forks.length] as RefFork) : undefined;
    const work: Record<CrashOp, () => Promise<unknown>> = {
      attach: () => engine.attach(this.volume, { job: 'doomed' }),
      commit: () => engine.finish((fork as RefFork).id, 0),
      abandon: () => engine.abandon((fork as RefFork).id),
      gc: () => engine.gc(),
    };
    try {
      await work[this.op]();
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
    }
    // A new process starts and repairs what the dead one left.
    const report = await r.engine.reconcile({ force: true });
    if (report.errors.length > 0) fail(`reconcile errors: ${JSON.stringify(report.errors)}`);
    // Reconcile also ends the forks whose lease ran out, as gc does.
    settleGc(m);
    if (this.op === 'attach') {
      const head = m.heads.get(this.volume);
      if (head && expectedAttach(m, this.volume).result === 'hit') head.lastUsedAt = m.now;
      // The job that attached is gone too: its lease would run out; abandon it now.
      const known = new Set(m.forks.map((f) => f.id));
      for (const orphan of await r.engine.forks())
        if (isLive(orphan) && !known.has(orphan.id)) await r.engine.abandon(orphan.id);
    } else if (this.op === 'commit' && fork) {
      const record = await r.store.findFork(fork.id);
      if (record?.state !== 'committed' || !record.versionId)
        fail(`a crashed commit of ${fork.id} ended ${record?.state}`);
      dropFork(m, fork);
      recordCommit(m, r, fork, record.versionId);
    } else if (this.op === 'abandon' && fork) {
      same(
        (await r.store.findFork(fork.id))?.state,
        'abandoned',
        `state of ${fork.id} after a crashed abandon`,
      );
      dropFork(m, fork);
    } else {
      await r.engine.gc();
      settleGc(m);
    }
    await checkInvariants(r);
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
    fc.constantFrom(HOUR, 3 * HOUR, 2 * 24 * HOUR, 8 * 24 * HOUR).map((ms) => new Advance(ms)),
    fc.constant(new Gc()),
  ];
  if (crashes) {
    list.push(
      fc
        .tuple(fc.constantFrom<CrashOp>('attach', 'commit', 'abandon', 'gc'), index, volume, fc.nat(4))
        .map(([op, i, v, s]) => new Crash(op, i, v, s)),
    );
  }
  return list;
}

/**
 * Model-based test of `CacheVolumes` over a backend: fast-check generates sequences of attach,
 * write, finish (exit 0 or not), concurrent finishes, abandon, heartbeat, clock advances, gc,
 * and crashes injected between engine steps followed by `reconcile()`; after each command the
 * engine is compared with a small reference model (fork contents, hit/miss, heads) and every
 * state invariant is checked. Failures print fast-check's seed and path; replay them with
 * `CACHEVOL_SEED` and `CACHEVOL_PATH`.
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
    fc.asyncProperty(commands, async (cmds) => {
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
          log: [],
        } as unknown as Real;
        real.engine = engineFor(real, backend, store);
        await fc.asyncModelRun(() => ({ model: { now: start, heads: new Map(), forks: [] }, real }), cmds);
      } finally {
        await options.destroyBackend?.(backend);
      }
    }),
    propertyParameters(options.numRuns ?? 50),
  );
}
