/**
 * Turns measurements into ratios, checks them against the project's aims, and renders the
 * tables printed at the end of a run (also pasted into docs/benchmarks.md).
 */
import { formatBytes, formatMs, formatRatio, round } from './util.mjs';

/** Subjects judged against the aims, with the raw command run each is compared with. */
export const JUDGED = [
  { sdk: 'btrfs', raw: 'raw-btrfs-quota', label: 'btrfs (default: quota on)' },
  { sdk: 'zfs', raw: 'raw-zfs', label: 'zfs' },
];

/** SDK subject → its raw counterpart, for every overhead ratio. */
const RAW_OF = {
  btrfs: 'raw-btrfs-quota',
  'btrfs-noquota': 'raw-btrfs',
  zfs: 'raw-zfs',
};

/**
 * The cell of a subject on a tree.
 *
 * @param {any} results - the results document
 * @param {string} subject - subject id
 * @param {string} tree - tree id
 */
export function cellOf(results, subject, tree) {
  return results.cells.find((c) => c.subject === subject && c.tree === tree);
}

/**
 * The p50 of an operation, or `null` when it was not measured.
 *
 * @param {any} results - the results document
 * @param {string} subject - subject id
 * @param {string} tree - tree id
 * @param {string} op - operation
 */
export function p50Of(results, subject, tree, op) {
  const cell = cellOf(results, subject, tree);
  return cell?.status === 'ok' ? (cell.ops[op]?.p50 ?? null) : null;
}

const ratio = (a, b) => (a === null || b === null || b === 0 ? null : round(a / b));

/**
 * Every ratio the brief asks for, on the node_modules tree (SDK / raw, SDK / tar extract,
 * SDK / cp -a) and over the size sweep (largest / smallest tree).
 *
 * @param {any} results - the results document (cells filled in)
 */
export function computeRatios(results) {
  const tree = results.trees.find((t) => t.group === 'node-modules')?.id;
  const sweep = results.trees.filter((t) => t.group === 'sweep');
  const smallest = sweep[0]?.id;
  const largest = sweep.at(-1)?.id;
  const sdk = results.subjects.filter((s) => s.kind === 'sdk').map((s) => s.id);
  const out = { tree, sdkVsRaw: [], sdkVsTarExtract: [], sdkVsCp: [], sizeFlatness: [] };
  const tar = p50Of(results, 'tar-extract', tree, 'restore');
  const cp = p50Of(results, 'cp-a', tree, 'restore');
  for (const subject of sdk) {
    for (const op of ['attach', 'commit']) {
      const value = p50Of(results, subject, tree, op);
      const raw = RAW_OF[subject];
      if (raw) {
        const rawValue = p50Of(results, raw, tree, op);
        const sdkCell = cellOf(results, subject, tree);
        const rawCell = cellOf(results, raw, tree);
        const parts = sdkCell?.breakdown?.[op]?.parts ?? {};
        const storeMean = Object.entries(parts)
          .filter(([key]) => key.startsWith('store.'))
          .reduce((sum, [, ms]) => sum + ms, 0);
        out.sdkVsRaw.push({
          subject,
          raw,
          op,
          sdkP50: value,
          rawP50: rawValue,
          ratio: ratio(value, rawValue),
          // Means, not p50s: the store's share is only known as a mean.
          withoutStoreMeanRatio:
            sdkCell?.status === 'ok' && rawCell?.status === 'ok'
              ? ratio(sdkCell.ops[op].mean - storeMean, rawCell.ops[op].mean)
              : null,
        });
      }
      out.sdkVsTarExtract.push({ subject, op, sdkP50: value, tarExtractP50: tar, ratio: ratio(value, tar) });
      out.sdkVsCp.push({ subject, op, sdkP50: value, cpP50: cp, ratio: ratio(value, cp) });
    }
  }
  if (smallest && largest && smallest !== largest) {
    for (const subject of results.subjects) {
      for (const op of subject.ops) {
        const small = p50Of(results, subject.id, smallest, op);
        const large = p50Of(results, subject.id, largest, op);
        const largestMeasured = [...sweep]
          .reverse()
          .find((t) => p50Of(results, subject.id, t.id, op) !== null);
        out.sizeFlatness.push({
          subject: subject.id,
          op,
          smallest,
          largest,
          smallestP50: small,
          largestP50: large,
          ratio: ratio(large, small),
          ...(large === null && largestMeasured && largestMeasured.id !== smallest
            ? {
                largestMeasured: largestMeasured.id,
                largestMeasuredRatio: ratio(p50Of(results, subject.id, largestMeasured.id, op), small),
              }
            : {}),
        });
      }
    }
  }
  return out;
}

/**
 * The project's aims, each with the measured value and whether it is met (`null` when it
 * could not be measured).
 *
 * @param {any} results - the results document (cells and ratios filled in)
 */
export function computeTargets(results) {
  const { ratios } = results;
  const targets = [];
  for (const { sdk, label } of JUDGED) {
    for (const op of ['attach', 'commit']) {
      const r = ratios.sdkVsTarExtract.find((x) => x.subject === sdk && x.op === op);
      const speedup = r?.ratio ? round(1 / r.ratio) : null;
      targets.push({
        id: `${sdk}-${op}-vs-tar`,
        aim: `${label} ${op} at least 100× faster than tar+zstd extract of the same tree`,
        measured:
          speedup === null
            ? null
            : `${speedup}× faster (${formatMs(r.sdkP50)} vs ${formatMs(r.tarExtractP50)})`,
        value: speedup,
        met: speedup === null ? null : speedup >= 100,
      });
    }
  }
  for (const { sdk, label } of JUDGED) {
    for (const op of ['attach', 'commit']) {
      const r = ratios.sizeFlatness.find((x) => x.subject === sdk && x.op === op);
      targets.push({
        id: `${sdk}-${op}-flat`,
        aim: `${label} ${op}: ${r?.largest ?? 'largest'} tree no more than 1.5× the ${r?.smallest ?? 'smallest'} tree`,
        measured:
          r?.ratio == null ? null : `${r.ratio}× (${formatMs(r.largestP50)} vs ${formatMs(r.smallestP50)})`,
        value: r?.ratio ?? null,
        met: r?.ratio == null ? null : r.ratio <= 1.5,
      });
    }
  }
  for (const { sdk, label } of JUDGED) {
    for (const op of ['attach', 'commit']) {
      const r = ratios.sdkVsRaw.find((x) => x.subject === sdk && x.op === op);
      targets.push({
        id: `${sdk}-${op}-overhead`,
        aim: `${label} ${op}: the SDK adds no more than 30% over the raw command`,
        measured:
          r?.ratio == null ? null : `${r.ratio}× raw (${formatMs(r.sdkP50)} vs ${formatMs(r.rawP50)})`,
        value: r?.ratio ?? null,
        met: r?.ratio == null ? null : r.ratio <= 1.3,
      });
    }
  }
  // The aim is for attaches that find a version; the worst-case miss is in the selection table.
  const selection =
    results.core?.selection?.filter((s) => s.versions === 100_000 && 'result' in s && s.result !== 'miss') ??
    [];
  for (const s of selection) {
    targets.push({
      id: `selection-100k-${s.case.split(' ')[0]}`,
      aim: `selectParent over 100,000 versions (${s.case}) under 1 ms`,
      measured: `${formatMs(s.p50)} p50, ${formatMs(s.p95)} p95`,
      value: s.p50,
      met: s.p50 < 1,
    });
  }
  return targets;
}

/**
 * Renders rows as a markdown table (readable as plain text too).
 *
 * @param {string[]} header - column titles
 * @param {string[][]} rows - cells
 */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `status: reason`, without repeating the status when the reason starts with it. */
const why = (cell) =>
  `${cell.status}: ${String(cell.reason ?? '').replace(new RegExp(`^${cell.status}: `), '')}`;
const statusText = (cell) => (cell ? (cell.status === 'ok' ? '' : why(cell)) : 'not run');

/**
 * Every table of a run, as markdown.
 *
 * @param {any} results - the complete results document
 */
export function renderReport(results) {
  const out = [];
  const nm = results.trees.find((t) => t.group === 'node-modules');
  const sweep = results.trees.filter((t) => t.group === 'sweep');
  out.push(
    `cachevol benchmark: ${results.mode} run, ${results.startedAt}, ${Math.round(results.durationS)} s`,
    results.mode === 'quick' ? `QUICK MODE: ${results.note}` : '',
    `machine: ${results.machine.cpus}× ${results.machine.cpuModel}, ${formatBytes(results.machine.memBytes)} RAM, Linux ${results.machine.kernel}, Node ${results.machine.node}; load average at start ${results.machine.loadavgStart.join(' ')}, at end ${results.machine.loadavgEnd?.join(' ') ?? '-'}`,
    '',
  );

  out.push('### Trees', '');
  out.push(
    table(
      [
        'tree',
        'files',
        'dirs',
        'symlinks',
        'bytes',
        'median file',
        'files < 4 KiB',
        'bytes in files ≥ 1 MiB',
        'tar.zst',
        'generate',
      ],
      results.trees.map((t) => [
        t.label,
        t.files.toLocaleString('en-US'),
        t.dirs.toLocaleString('en-US'),
        String(t.symlinks),
        formatBytes(t.bytes),
        formatBytes(t.fileSize.p50),
        `${Math.round((100 * t.filesUnder4KiB) / t.files)}%`,
        `${Math.round((100 * t.bytesInFilesOver1MiB) / t.bytes)}%`,
        t.archive ? `${formatBytes(t.archive.bytes)} (${t.archive.ratio}×)` : '-',
        formatMs(t.generateMs),
      ]),
    ),
    '',
  );

  if (nm) {
    out.push(`### ${nm.label}: attach (fork + link) and commit, restore and save baselines`, '');
    const rows = [];
    for (const subject of results.subjects) {
      const cell = cellOf(results, subject.id, nm.id);
      for (const op of subject.ops) {
        const s = cell?.status === 'ok' ? cell.ops[op] : null;
        rows.push([
          subject.label,
          op,
          s ? formatMs(s.p50) : '-',
          s ? formatMs(s.p95) : '-',
          s ? String(s.n) : '-',
          cell?.status === 'ok' && cell.populateMs ? formatMs(cell.populateMs) : '-',
          statusText(cell),
        ]);
      }
    }
    out.push(table(['subject', 'op', 'p50', 'p95', 'n', 'populate', 'status'], rows), '');
  }

  if (sweep.length > 0) {
    out.push('### Size sweep: p50 (p95) per tree size', '');
    const rows = [];
    for (const subject of results.subjects) {
      for (const op of subject.ops) {
        const flat = results.ratios.sizeFlatness.find((r) => r.subject === subject.id && r.op === op);
        const notes = sweep
          .map((t) => cellOf(results, subject.id, t.id))
          .filter((c) => c && c.status !== 'ok')
          .map((c) => `${c.tree}: ${why(c)}`);
        rows.push([
          subject.label,
          op,
          ...sweep.map((t) => {
            const cell = cellOf(results, subject.id, t.id);
            const s = cell?.status === 'ok' ? cell.ops[op] : null;
            return s ? `${formatMs(s.p50)} (${formatMs(s.p95)})` : '-';
          }),
          flat?.ratio != null
            ? formatRatio(flat.ratio)
            : flat?.largestMeasuredRatio != null
              ? `${formatRatio(flat.largestMeasuredRatio)} (${flat.largestMeasured})`
              : '-',
          [...new Set(notes)].join('; ').slice(0, 160),
        ]);
      }
    }
    out.push(
      table(
        ['subject', 'op', ...sweep.map((t) => t.label), `${sweep.at(-1).label} / ${sweep[0].label}`, 'notes'],
        rows,
      ),
      '',
    );
  }

  const breakdownRows = [];
  for (const cell of results.cells.filter((c) => c.status === 'ok' && c.breakdown && c.tree === nm?.id)) {
    for (const [op, b] of Object.entries(cell.breakdown)) {
      breakdownRows.push([
        cell.subject,
        op,
        formatMs(cell.ops[op].mean),
        Object.entries(b.parts)
          .map(([k, v]) => `${k} ${formatMs(v)}`)
          .join(', '),
        b.commands
          .slice(0, 6)
          .map((c) => `${c.command} ×${c.perOp} ${formatMs(c.msPerOp)}`)
          .join('; '),
      ]);
    }
  }
  if (breakdownRows.length > 0) {
    out.push(
      `### Where the SDK's time goes (${nm?.label}, mean per operation)`,
      '',
      table(
        ['subject', 'op', 'mean', 'store / backend / rest', 'commands spawned (count, time per op)'],
        breakdownRows,
      ),
      '',
    );
  }

  if (results.core) {
    out.push('### Core: parent selection', '');
    out.push(
      table(
        ['versions', 'case', 'result', 'p50', 'p95'],
        results.core.selection.map((s) => [
          s.versions.toLocaleString('en-US'),
          s.case,
          s.result ?? '',
          formatMs(s.p50),
          formatMs(s.p95),
        ]),
      ),
      '',
      '### Core: engine attach + commit cycles (memory backend, memory store)',
      '',
      table(
        ['case', 'cycles', 'cycles/s', 'first 10% /s', 'last 10% /s', 'cycle p50', 'cycle p95'],
        results.core.engine.map((e) => [
          e.case,
          String(e.cycles),
          String(e.cyclesPerSecond),
          String(e.firstTenthPerSecond),
          String(e.lastTenthPerSecond),
          formatMs(e.cycleMs.p50),
          formatMs(e.cycleMs.p95),
        ]),
      ),
      '',
    );
  }

  const r = results.ratios;
  const ratioRows = [
    ...r.sdkVsRaw.map((x) => [`${x.subject} / ${x.raw}`, x.op, formatRatio(x.ratio)]),
    ...r.sdkVsRaw.map((x) => [
      `${x.subject} without its store calls / ${x.raw} (means)`,
      x.op,
      formatRatio(x.withoutStoreMeanRatio),
    ]),
    ...r.sdkVsTarExtract.map((x) => [`${x.subject} / tar+zstd extract`, x.op, formatRatio(x.ratio)]),
    ...r.sdkVsCp.map((x) => [`${x.subject} / cp -a`, x.op, formatRatio(x.ratio)]),
  ];
  out.push(
    `### Ratios (p50, ${nm?.label ?? 'node_modules tree'})`,
    '',
    table(['ratio', 'op', 'value'], ratioRows),
    '',
  );

  out.push(
    '### Aims',
    '',
    table(
      ['aim', 'measured', 'met'],
      results.targets.map((t) => [
        t.aim,
        t.measured ?? 'not measured',
        t.met === null ? '-' : t.met ? 'yes' : 'NO',
      ]),
    ),
    '',
  );
  return out.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}
