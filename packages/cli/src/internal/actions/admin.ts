import {
  emptyReconcileReport,
  formatSize,
  headOf,
  type ReconcileReport,
  type VolumeSlice,
  validateName,
} from '@cachevol/core';
import { readGlobals } from '../globals.js';
import { flag, str } from '../inputs.js';
import { openEngine, requireEngine } from '../open.js';
import { Output } from '../output.js';
import type { CommandRun } from '../spec.js';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function printUnaccounted(out: Output, report: ReconcileReport): void {
  if (report.unaccounted.length === 0) return;
  const ids = report.unaccounted.map((e) => `${e.kind} ${e.id}`).join(', ');
  out.warn(
    `kept ${report.unaccounted.length} backend entr${report.unaccounted.length === 1 ? 'y' : 'ies'} that no record accounts for (${ids}); run with --force to delete them`,
  );
}

function list(ids: string[]): string {
  return ids.length > 0 ? `: ${ids.join(', ')}` : '';
}

/** `cachevol ls`. */
export const ls: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'ls');
  const engine = await openEngine(globals, { create: false });
  const slices: VolumeSlice[] = [];
  if (engine) for await (const slice of engine.volumes()) slices.push(slice);
  const volumes = slices
    .flatMap(({ volume, forks }) => (volume ? [{ volume, forks: Object.values(forks) }] : []))
    .map(({ volume, forks }) => {
      const head = headOf(volume);
      return {
        scope: volume.scope,
        name: volume.name,
        headId: head?.id ?? null,
        versions: [...volume.versionIds]
          .reverse()
          .map((id) => volume.versions[id])
          .filter((v) => v !== undefined)
          .map((v) => ({
            id: v.id,
            seq: v.seq,
            baseId: v.baseId,
            usedBytes: v.usedBytes,
            committedAt: iso(v.committedAt),
            lastUsedAt: iso(v.lastUsedAt),
            state: v.state,
            hosts: v.hosts,
            head: v.id === head?.id,
          })),
        forks: forks.map((f) => ({
          id: f.id,
          state: f.state,
          baseId: f.baseId,
          result: f.result,
          source: f.source
            ? {
                scope: f.source.scope,
                name: f.source.name,
                versionId: f.source.versionId,
                result: f.source.result,
              }
            : null,
          job: f.job,
          expiresAt: iso(f.expiresAt),
        })),
      };
    });
  if (flag(args, 'json')) {
    out.json({ root: globals.root, volumes });
    return 0;
  }
  if (volumes.length === 0) {
    out.line(`no volumes under ${globals.root}`);
    return 0;
  }
  for (const volume of volumes) {
    out.line(out.out('bold', `${volume.scope}/${volume.name}`));
    for (const v of volume.versions) {
      const mark = v.head ? out.out('green', ' head') : '';
      out.line(`  version ${v.id}  #${v.seq}  ${formatSize(v.usedBytes)}  committed ${v.committedAt}${mark}`);
    }
    for (const f of volume.forks)
      out.line(`  fork    ${f.id}  ${f.state} (${f.result}), lease until ${f.expiresAt}`);
  }
  return 0;
};

/** `cachevol stats`. */
export const stats: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'stats');
  const engine = await openEngine(globals, { create: false });
  const stats = engine ? await engine.stats() : [];
  if (flag(args, 'json')) {
    out.json({ root: globals.root, volumes: stats.map((s) => ({ ...s, lastUsedAt: iso(s.lastUsedAt) })) });
    return 0;
  }
  if (stats.length === 0) {
    out.line(`no volumes under ${globals.root}`);
    return 0;
  }
  const ratio = (r: number | null) => (r === null ? '-' : `${Math.round(r * 100)}%`);
  const rows = stats.map((s) => [
    `${s.scope}/${s.name}`,
    String(s.counts.hit),
    String(s.counts.stale),
    String(s.counts.miss),
    ratio(s.hitRatio),
    ratio(s.recent.day.hitRatio),
    ratio(s.recent.week.hitRatio),
    String(s.versions),
    s.emptyHead ? '0 B (empty)' : formatSize(s.headBytes),
    String(s.liveForks),
  ]);
  const header = [
    'VOLUME',
    'HIT',
    'STALE',
    'MISS',
    'RATIO',
    '24H',
    '7D',
    'VERSIONS',
    'HEAD SIZE',
    'LIVE FORKS',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  out.line(out.out('bold', fmt(header)));
  for (const r of rows) out.line(fmt(r));
  const empty = stats.filter((s) => s.emptyHead).map((s) => `${s.scope}/${s.name}`);
  if (empty.length > 0)
    out.warn(
      `the head of ${empty.join(', ')} holds no data: its hits give an empty cache (do the jobs write into the cache paths?)`,
    );
  return 0;
};

/** `cachevol gc`. */
export const gc: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'gc');
  const force = flag(args, 'force');
  const engine = await openEngine(globals, { create: false, allowUnrecorded: force });
  const report = engine
    ? await engine.gc({ removeUnaccounted: force })
    : {
        expiredForks: [],
        removedVersions: [],
        prunedForks: 0,
        deletedObjects: [],
        reconcile: emptyReconcileReport(),
      };
  const { reconcile } = report;
  if (flag(args, 'json')) {
    out.json({
      ...report,
      leftovers: reconcile.leftovers,
      unaccounted: reconcile.unaccounted,
      errors: reconcile.errors,
    });
  } else {
    out.line(`abandoned ${report.expiredForks.length} expired fork(s)${list(report.expiredForks)}`);
    out.line(
      `completed ${reconcile.committed.length} interrupted commit(s), abandoned ${reconcile.abandoned.length} interrupted attach(es)`,
    );
    out.line(
      `removed ${report.removedVersions.length} version(s)${list(report.removedVersions.map((v) => v.versionId))}`,
    );
    out.line(
      `removed ${reconcile.leftovers.length} leftover(s), pruned ${report.prunedForks} ended fork record(s)`,
    );
    printUnaccounted(out, reconcile);
    for (const e of reconcile.errors) out.warn(`${e.id}: ${e.error}`);
  }
  return reconcile.errors.length > 0 ? 1 : 0;
};

/** `cachevol rm`. */
export const rm: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'rm');
  const name = validateName(args.positionals[0]);
  const scope = validateName(str(args, 'scope') ?? 'default', 'scope');
  const engine = await requireEngine(globals);
  const removed = await engine.removeVolume(name, { scope });
  if (flag(args, 'json')) out.json({ scope, name, removedVersions: removed });
  else out.line(`removed ${scope}/${name} (${removed.length} version(s))`);
  return 0;
};

/** `cachevol reconcile`. */
export const reconcile: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'reconcile');
  const force = flag(args, 'force');
  const engine = await openEngine(globals, { create: false, allowUnrecorded: force });
  const report = engine ? await engine.reconcile({ force }) : emptyReconcileReport();
  if (flag(args, 'json')) {
    out.json(report);
  } else {
    out.line(
      `committed ${report.committed.length}, abandoned ${report.abandoned.length + report.expiredForks.length}, removed ${report.removedVersions.length} version(s) and ${report.leftovers.length} leftover(s)`,
    );
    printUnaccounted(out, report);
    for (const e of report.errors) out.warn(`${e.id}: ${e.error}`);
  }
  return report.errors.length > 0 ? 1 : 0;
};
