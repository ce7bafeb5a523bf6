import { once } from 'node:events';
import { CacheVolumeError, formatSize, headOf, httpVersionSource, serveVersions } from '@cachevol/core';
import { type Globals, readGlobals } from '../globals.js';
import { flag, str } from '../inputs.js';
import { openEngine, requireEngine } from '../open.js';
import { Output } from '../output.js';
import type { CommandRun } from '../spec.js';
import { UsageError } from '../usage-error.js';

/** Where `cachevol serve` listens by default. */
const DEFAULT_LISTEN = '127.0.0.1:7077';

function parseListen(text: string): { host: string; port: number } {
  const match = /^(.+):([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1') ?? '';
  if (!match || port > 65535 || !/^[0-9A-Za-z.:-]+$/.test(host)) {
    throw new UsageError(
      `--listen: invalid address ${JSON.stringify(text)}; write ADDRESS:PORT, e.g. 10.0.0.1:7077`,
      'serve',
    );
  }
  return { host, port };
}

function needToken(globals: Globals, command: string): string {
  if (globals.token) return globals.token;
  throw new UsageError(
    `${command} needs the fleet's shared token: set CACHEVOL_TOKEN or --token-file FILE (at least 16 characters; e.g. openssl rand -hex 32)`,
    command,
  );
}

/** `cachevol serve`. */
export const serve: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'serve');
  const listen = parseListen(str(args, 'listen') ?? DEFAULT_LISTEN);
  const token = needToken(globals, 'serve');
  const engine = await openEngine(globals, { create: true });
  const agent = await serveVersions(engine, { token, ...listen });
  if (flag(args, 'json')) out.json({ url: agent.url, host: engine.host, root: globals.root });
  else
    out.line(
      `serving the versions host "${engine.host}" holds on ${agent.url} (stop with Ctrl-C or SIGTERM)`,
    );
  const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  out.note(`stopping (${String(signal[0] ?? 'signal')})`);
  await agent.close();
  return 0;
};

/** `cachevol pull`. */
export const pull: CommandRun = async (args, io) => {
  const out = new Output(io);
  const globals = readGlobals(args, io, 'pull');
  const [name] = args.positionals as [string];
  const scope = str(args, 'scope') ?? 'default';
  const engine = await requireEngine(globals);
  const slice = await engine.store.read({ scope, name });
  const versionId = str(args, 'version-id') ?? headOf(slice.volume ?? undefined)?.id;
  const version = versionId ? slice.volume?.versions[versionId] : undefined;
  if (!versionId || !version) {
    throw new CacheVolumeError(
      'NOT_FOUND',
      `Volume "${name}" (scope "${scope}") has ${versionId ? `no version "${versionId}"` : 'no version'} to pull.`,
      { details: { scope, name, versionId: versionId ?? null } },
    );
  }
  const json = flag(args, 'json');
  if (version.hosts.includes(engine.host)) {
    if (json)
      out.json({ versionId, received: false, format: null, baseId: null, bytes: 0, from: null, ms: 0 });
    else out.line(`version ${versionId} is on this host already`);
    return 0;
  }
  const wanted = str(args, 'from');
  const candidates = globals.peers.filter((p) =>
    wanted ? p.host === wanted : version.hosts.includes(p.host),
  );
  if (candidates.length === 0) {
    throw wanted
      ? new UsageError(
          `--from ${wanted}: no --peer names that host; add --peer ${wanted}=http://ADDRESS:PORT`,
          'pull',
        )
      : new CacheVolumeError(
          'NOT_FOUND',
          `Version "${versionId}" is held by ${version.hosts.join(', ')}; none of them is a --peer of this host.`,
          { details: { versionId, hosts: version.hosts } },
        );
  }
  const token = needToken(globals, 'pull');
  const failures: string[] = [];
  for (const peer of candidates) {
    const from = httpVersionSource({
      url: peer.url,
      token,
      idleTimeoutMs: globals.transferBudgetMs ?? 30_000,
    });
    const started = performance.now();
    try {
      const report = await engine.pull(name, { scope, versionId, from });
      const ms = Math.round(performance.now() - started);
      if (json) out.json({ ...report, from: report.received ? peer.host : null, ms });
      else if (!report.received) out.line(`version ${versionId} is on this host already`);
      else
        out.line(
          `pulled version ${versionId} from ${peer.host}: ${formatSize(report.bytes)} ${report.baseId ? `relative to ${report.baseId}` : 'whole'} (${report.format}) in ${ms} ms`,
        );
      return 0;
    } catch (error) {
      out.warn(`could not pull from ${peer.host}: ${error instanceof Error ? error.message : String(error)}`);
      failures.push(`${peer.host}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new CacheVolumeError(
    'BACKEND_FAILED',
    `Could not pull version "${versionId}": ${failures.join('; ')}`,
    {
      details: { versionId, failures },
    },
  );
};
