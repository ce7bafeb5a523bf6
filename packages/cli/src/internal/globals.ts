import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { CliIo } from './output.js';
import type { ParsedArgs } from './spec.js';
import { UsageError } from './usage-error.js';

/** The storage backends `--backend` accepts. */
export const BACKEND_KINDS = ['dir', 'btrfs', 'zfs', 'sparsebundle'] as const;

/** A backend `--backend` accepts. */
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** A host name as `--host` and `--peer` take it. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The shortest lease: forks are renewed every third of it, so a shorter one expires while a job runs. */
export const MIN_LEASE_MS = 1000;

/**
 * The global settings of every command (the single source of truth for their defaults). Each
 * comes from its flag, else its environment variable, else the default.
 */
export const globalsSchema = z
  .object({
    backend: z.enum(BACKEND_KINDS).default('dir').describe('--backend / CACHEVOL_BACKEND'),
    root: z.string().min(1).optional().describe('--root / CACHEVOL_ROOT (default: see defaultRoot)'),
    dataset: z.string().min(1).optional().describe('--dataset / CACHEVOL_ZFS_DATASET'),
    store: z
      .string()
      .regex(/^(sqlite|postgres(ql)?:\/\/.+)$/, 'expected sqlite or a postgres:// connection string')
      .default('sqlite')
      .describe('--store / CACHEVOL_STORE'),
    leaseMs: z.number().int().min(MIN_LEASE_MS).optional().describe('--lease / CACHEVOL_LEASE_MS'),
    retentionMs: z.number().int().positive().optional().describe('--retention / CACHEVOL_RETENTION'),
    maxTotalBytes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('--max-total-size / CACHEVOL_MAX_TOTAL_SIZE'),
    maxVersionsPerVolume: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('--versions-per-volume / CACHEVOL_VERSIONS_PER_VOLUME'),
    host: z
      .string()
      .regex(HOST_NAME, 'expected a host name: letters, digits, ".", "_" and "-", at most 63')
      .optional()
      .describe('--host / CACHEVOL_HOST (default: the machine name)'),
    peers: z.string().optional().describe('--peer / CACHEVOL_PEERS: HOST=URL, comma-separated'),
    tokenFile: z.string().min(1).optional().describe('--token-file / CACHEVOL_TOKEN_FILE'),
    objects: z
      .string()
      .regex(
        /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._/-]*)?$/,
        'expected s3://BUCKET or s3://BUCKET/PREFIX',
      )
      .optional()
      .describe('--objects / CACHEVOL_OBJECTS'),
    objectsEndpoint: z
      .string()
      .regex(/^https?:\/\/[^\s/]+\/?$/, 'expected http(s)://HOST:PORT')
      .optional()
      .describe('--objects-endpoint / CACHEVOL_OBJECTS_ENDPOINT'),
    objectsFormat: z
      .enum(['tar-zstd', 'btrfs-send', 'zfs-send'])
      .optional()
      .describe('--objects-format / CACHEVOL_OBJECTS_FORMAT'),
    transferBudgetMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('--transfer-budget / CACHEVOL_TRANSFER_BUDGET'),
  })
  .strict();

/** A peer of the fleet: its host name and its agent's URL. */
export interface Peer {
  host: string;
  url: string;
}

/**
 * Global settings, resolved: `root` is absolute; `peers` parsed; `token` read from
 * `CACHEVOL_TOKEN` or the token file.
 */
export type Globals = Omit<z.infer<typeof globalsSchema>, 'peers'> & {
  root: string;
  peers: Peer[];
  token?: string;
};

/**
 * The root when neither `--root` nor `CACHEVOL_ROOT` is given: a cache directory of the machine
 * or the user, never the working directory (a root inside a checkout shows in `git status` and
 * goes with `git clean -fdx`). As root on Linux `/var/cache/cachevol`; otherwise
 * `$XDG_CACHE_HOME/cachevol`, else `~/.cache/cachevol`; on macOS `~/Library/Caches/cachevol`
 * (`/Library/Caches/cachevol` as root).
 *
 * @param env - the environment (`HOME`, `XDG_CACHE_HOME`)
 * @param platform - the operating system
 * @param uid - the user id
 */
export function defaultRoot(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  uid: number | undefined = process.getuid?.(),
): string {
  const home = env.HOME || homedir();
  if (platform === 'darwin')
    return uid === 0 ? '/Library/Caches/cachevol' : join(home, 'Library', 'Caches', 'cachevol');
  if (uid === 0) return '/var/cache/cachevol';
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.cache'), 'cachevol');
}

const SOURCES: Record<Exclude<keyof Globals, 'root'> | 'root', { flag: string; env: string }> = {
  backend: { flag: '--backend', env: 'CACHEVOL_BACKEND' },
  root: { flag: '--root', env: 'CACHEVOL_ROOT' },
  dataset: { flag: '--dataset', env: 'CACHEVOL_ZFS_DATASET' },
  store: { flag: '--store', env: 'CACHEVOL_STORE' },
  leaseMs: { flag: '--lease', env: 'CACHEVOL_LEASE_MS' },
  retentionMs: { flag: '--retention', env: 'CACHEVOL_RETENTION' },
  maxTotalBytes: { flag: '--max-total-size', env: 'CACHEVOL_MAX_TOTAL_SIZE' },
  maxVersionsPerVolume: { flag: '--versions-per-volume', env: 'CACHEVOL_VERSIONS_PER_VOLUME' },
  host: { flag: '--host', env: 'CACHEVOL_HOST' },
  peers: { flag: '--peer', env: 'CACHEVOL_PEERS' },
  tokenFile: { flag: '--token-file', env: 'CACHEVOL_TOKEN_FILE' },
  transferBudgetMs: { flag: '--transfer-budget', env: 'CACHEVOL_TRANSFER_BUDGET' },
  objects: { flag: '--objects', env: 'CACHEVOL_OBJECTS' },
  objectsEndpoint: { flag: '--objects-endpoint', env: 'CACHEVOL_OBJECTS_ENDPOINT' },
  objectsFormat: { flag: '--objects-format', env: 'CACHEVOL_OBJECTS_FORMAT' },
  token: { flag: '--token-file', env: 'CACHEVOL_TOKEN' },
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration with its unit: `500ms`, `30s`, `10m`, `2h`, `14d`. A bare number has no
 * unit and is refused (`--lease 5` once meant 5 ms).
 *
 * @param text - the duration
 * @returns milliseconds, or `NaN` when malformed
 */
export function parseDuration(text: string): number {
  const match = /^([0-9]{1,12})(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * (UNITS[match[2] as string] ?? Number.NaN);
}

/** How each numeric setting is read (`NaN` when malformed or out of range), and how to write it. */
const NUMERIC: Partial<
  Record<keyof Globals, { parse(raw: string, fromFlag: boolean): number; how: string }>
> = {
  leaseMs: {
    // The variable's name says milliseconds; the flag takes a unit.
    parse: (raw, fromFlag) => {
      const ms = fromFlag ? parseDuration(raw) : /^[0-9]{1,12}$/.test(raw) ? Number(raw) : Number.NaN;
      return ms >= MIN_LEASE_MS ? ms : Number.NaN;
    },
    how: `a time of at least 1s with its unit: 30s, 10m, 2h (the variable: milliseconds, at least ${MIN_LEASE_MS})`,
  },
  retentionMs: { parse: parseDuration, how: 'a time with its unit: 14d, 36h, 90m' },
  maxTotalBytes: {
    parse: (raw) => (/^[1-9][0-9]{0,6}g$/.test(raw) ? Number.parseInt(raw, 10) * 2 ** 30 : Number.NaN),
    how: 'whole gigabytes: 100g',
  },
  maxVersionsPerVolume: {
    parse: (raw) => (/^[1-9][0-9]{0,5}$/.test(raw) ? Number(raw) : Number.NaN),
    how: 'a whole number of at least 1 (the head)',
  },
  transferBudgetMs: { parse: parseDuration, how: 'a time with its unit: 30s, 2m, 500ms' },
};

/**
 * Parses `--peer` / `CACHEVOL_PEERS`: `HOST=URL` entries, comma-separated, each URL the
 * `http://ADDRESS:PORT` of that host's `cachevol serve`.
 *
 * @param raw - the entries
 * @param source - the flag or variable, for the error
 * @param command - the command, for the error hint
 * @throws {@link UsageError} for a malformed entry or a host named twice
 */
export function parsePeers(raw: string, source: string, command: string): Peer[] {
  const peers: Peer[] = [];
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf('=');
    const host = entry.slice(0, at);
    let url: URL | null = null;
    try {
      url = at > 0 ? new URL(entry.slice(at + 1)) : null;
    } catch {
      url = null;
    }
    const plain = url && url.protocol === 'http:' && !url.username && !url.password && url.pathname === '/';
    if (!HOST_NAME.test(host) || !url || !plain || url.search || url.hash) {
      throw new UsageError(
        `${source}: invalid peer ${JSON.stringify(entry)}; write HOST=http://ADDRESS:PORT (the URL cachevol serve prints), e.g. b=http://10.0.0.2:7077`,
        command,
      );
    }
    if (peers.some((p) => p.host === host)) {
      throw new UsageError(`${source}: host ${JSON.stringify(host)} is named twice`, command);
    }
    peers.push({ host, url: url.origin });
  }
  return peers;
}

/**
 * The fleet's shared token: `CACHEVOL_TOKEN`, else the first line of the token file. Never a
 * flag (a command line is visible to every user of the machine).
 */
function readToken(tokenFile: string | undefined, io: CliIo, from: string | undefined, command: string) {
  if (io.env.CACHEVOL_TOKEN) return io.env.CACHEVOL_TOKEN;
  if (tokenFile === undefined) return undefined;
  const path = resolve(io.cwd, tokenFile);
  try {
    return readFileSync(path, 'utf8').split('\n')[0]?.trim() || undefined;
  } catch (error) {
    throw new UsageError(
      `${from ?? '--token-file'}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}); give a file that holds the fleet's token`,
      command,
    );
  }
}

/**
 * Reads the global settings from the parsed flags and the environment (flags win), validating
 * them with {@link globalsSchema}; the error names the flag or variable that was wrong.
 *
 * @param args - the parsed command line
 * @param io - environment and working directory
 * @param command - the command, for the error hint
 * @throws {@link UsageError} naming the flag or variable
 */
export function readGlobals(args: ParsedArgs, io: CliIo, command: string): Globals {
  const input: Record<string, unknown> = {};
  const from: Partial<Record<keyof Globals, string>> = {};
  for (const key of Object.keys(SOURCES) as (keyof Globals)[]) {
    if (key === 'token') continue; // read below, from the variable or the token file
    const { flag, env } = SOURCES[key];
    const flagName = flag.slice(2);
    const given = args.values[flagName];
    const flagValue = Array.isArray(given) ? given.join(',') : given;
    const raw = typeof flagValue === 'string' ? flagValue : io.env[env] || undefined;
    if (raw === undefined) continue;
    from[key] = typeof flagValue === 'string' ? flag : env;
    const numeric = NUMERIC[key];
    input[key] = numeric ? numeric.parse(raw, typeof flagValue === 'string') : raw;
    if (numeric && !(Number(input[key]) > 0)) {
      throw new UsageError(
        `${from[key]}: invalid value ${JSON.stringify(raw)}; write ${numeric.how}`,
        command,
      );
    }
  }
  const parsed = globalsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as keyof Globals | undefined;
    const source = key ? (from[key] ?? SOURCES[key].flag) : 'options';
    const allowed =
      key === 'backend' ? `expected one of ${BACKEND_KINDS.join(', ')}` : (issue?.message ?? 'invalid');
    throw new UsageError(
      `${source}: ${allowed}, got ${JSON.stringify(key ? input[key] : undefined)}`,
      command,
    );
  }
  const globals = parsed.data;
  if (globals.backend === 'zfs' && !globals.dataset) {
    throw new UsageError('--backend zfs needs --dataset POOL/DATASET (or CACHEVOL_ZFS_DATASET)', command);
  }
  const peers = globals.peers ? parsePeers(globals.peers, from.peers ?? '--peer', command) : [];
  const token = readToken(globals.tokenFile, io, from.tokenFile, command);
  if (peers.length > 0 && !token) {
    throw new UsageError(
      `${from.peers ?? '--peer'} needs the fleet's token: set CACHEVOL_TOKEN or --token-file FILE (the token each host's cachevol serve was started with)`,
      command,
    );
  }
  const root = globals.root === undefined ? defaultRoot(io.env) : resolve(io.cwd, globals.root);
  const kind = statSync(root, { throwIfNoEntry: false });
  if (kind && !kind.isDirectory()) {
    throw new UsageError(
      `${from.root ?? '--root'}: ${root} is not a directory; give a directory (it is made when missing)`,
      command,
    );
  }
  return { ...globals, root, peers, ...(token ? { token } : {}) };
}
