/** Options of {@link addCommits} and {@link makeRepository}. */
export interface RepositoryOptions {
  /** How many commits to add. */
  commits: number;
  /** How many files the first commit writes. */
  files: number;
  /** How many files each later commit rewrites. */
  changes: number;
  /** Bytes per file. @defaultValue 2048 */
  fileBytes?: number;
  /** The branch. @defaultValue `'main'` */
  branch?: string;
  /** Seeds the generated contents. @defaultValue `'repo'` */
  seed?: string;
}

/** Runs git with an argument array and returns its trimmed stdout; throws with its stderr. */
export function git(args: readonly string[], options?: { cwd?: string }): string;
/** Adds commits to a branch of a bare repository; returns their ids, oldest first. */
export function addCommits(dir: string, options: RepositoryOptions): Promise<string[]>;
/** Makes a packed bare repository with `commits` commits on `main`; returns their ids. */
export function makeRepository(dir: string, options: RepositoryOptions): Promise<string[]>;
/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number>;
/** A running `git daemon` on 127.0.0.1. */
export interface Daemon {
  /** Its port. */
  port: number;
  /** The `git://` URL of a repository under the base path. */
  url(name: string): string;
  /** Stops it and waits for it to end. */
  stop(): Promise<void>;
}
/** Starts `git daemon --export-all` for the repositories under `base`. */
export function startDaemon(base: string): Promise<Daemon>;
