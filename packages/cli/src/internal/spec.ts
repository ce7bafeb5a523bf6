import type { CliIo } from './output.js';

/** One flag of a command, as `--help` shows it and `node:util` parseArgs reads it. */
export interface OptionSpec {
  /** `string` takes a value; `boolean` does not. */
  type: 'string' | 'boolean';
  /** One-letter alias. */
  short?: string;
  /** May be given more than once (values collect into a list). */
  multiple?: boolean;
  /** The value's placeholder in help, e.g. `DIR`. */
  value?: string;
  /** One line for `--help`. */
  description: string;
  /** The environment variable read when the flag is absent. */
  env?: string;
}

/** A positional argument. */
export interface PositionalSpec {
  /** Its placeholder, e.g. `NAME`. */
  name: string;
  /** What it is, for help and errors. */
  description: string;
}

/** What a command receives once its command line is parsed. */
export interface ParsedArgs {
  /** Flag values by long name. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments, in order. */
  positionals: string[];
  /** Everything after `--` (only commands with `command: true` get any). */
  command: string[];
}

/** A `cachevol` command: its help, and where to load what it does. */
export interface CommandSpec {
  /** `attach`, or `pipeline plan` for sub-commands. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Positional arguments (all required, in order). */
  positionals: PositionalSpec[];
  /** The command's own flags (global flags are added to every command). */
  options: Record<string, OptionSpec>;
  /** True when the command takes a program to run after `--`. */
  command?: boolean;
  /** Extra paragraphs for `--help`. */
  details?: string;
  /** An example line for `--help`. */
  example?: string;
  /**
   * Loads what the command does. Its module (with the engine, zod and the backend and store
   * it opens) is imported only when the command runs, so `--help` and `--version` load none of
   * it.
   */
  load(): Promise<CommandRun>;
}

/**
 * What a command does, once its command line is parsed.
 *
 * @param args - the parsed command line
 * @param io - streams and environment
 * @returns the exit code
 */
export type CommandRun = (args: ParsedArgs, io: CliIo) => Promise<number>;

/** Flags every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  backend: {
    type: 'string',
    value: 'KIND',
    env: 'CACHEVOL_BACKEND',
    description: 'storage backend: dir (default), btrfs, zfs or sparsebundle',
  },
  root: {
    type: 'string',
    value: 'DIR',
    env: 'CACHEVOL_ROOT',
    description:
      'where backend data and the state database (state.db) live (default /var/cache/cachevol as root, else ~/.cache/cachevol)',
  },
  store: {
    type: 'string',
    value: 'STORE',
    env: 'CACHEVOL_STORE',
    description:
      'where the state lives: sqlite (default, ROOT/state.db) or a postgres:// URL shared by hosts',
  },
  dataset: {
    type: 'string',
    value: 'POOL/DS',
    env: 'CACHEVOL_ZFS_DATASET',
    description: 'the ZFS dataset that holds the volumes (with --backend zfs)',
  },
  lease: {
    type: 'string',
    value: 'TIME',
    env: 'CACHEVOL_LEASE_MS',
    description: 'fork lease, at least 1s: 30s, 10m, 2h (default 2h); env value in milliseconds',
  },
  retention: {
    type: 'string',
    value: 'TIME',
    env: 'CACHEVOL_RETENTION',
    description: 'remove versions idle this long: 14d (default), 36h',
  },
  'max-total-size': {
    type: 'string',
    value: 'SIZE',
    env: 'CACHEVOL_MAX_TOTAL_SIZE',
    description:
      'total size of all versions before the least recently used go, e.g. 200g (default: no limit)',
  },
  'versions-per-volume': {
    type: 'string',
    value: 'N',
    env: 'CACHEVOL_VERSIONS_PER_VOLUME',
    description: 'versions kept per volume, the head included (default 2)',
  },
  host: {
    type: 'string',
    value: 'NAME',
    env: 'CACHEVOL_HOST',
    description: "this host's name in the fleet, for locality (default: the machine name)",
  },
  peer: {
    type: 'string',
    multiple: true,
    value: 'HOST=URL',
    env: 'CACHEVOL_PEERS',
    description:
      "another host's cachevol serve, e.g. b=http://10.0.0.2:7077 (repeatable; env comma-separated): attaches pull a head only it holds",
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    env: 'CACHEVOL_TOKEN_FILE',
    description: "file holding the fleet's shared token (or set CACHEVOL_TOKEN), for serve and --peer",
  },
  'transfer-budget': {
    type: 'string',
    value: 'TIME',
    env: 'CACHEVOL_TRANSFER_BUDGET',
    description: 'how long an attach waits for a pull from a peer (default 30s)',
  },
  objects: {
    type: 'string',
    value: 'S3URL',
    env: 'CACHEVOL_OBJECTS',
    description: "the fleet's object store, s3://BUCKET/PREFIX (AWS_* credentials)",
  },
  'objects-endpoint': {
    type: 'string',
    value: 'URL',
    env: 'CACHEVOL_OBJECTS_ENDPOINT',
    description: 'an S3-compatible server for --objects (MinIO, Garage, Ceph)',
  },
  'objects-format': {
    type: 'string',
    value: 'FORMAT',
    env: 'CACHEVOL_OBJECTS_FORMAT',
    description: "uploads' format: the backend's (default) or tar-zstd (mixed fleets)",
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};
