import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { debuglog } from 'node:util';
import { Script } from 'node:vm';

const debug = debuglog('cachevol');

/** The values of `CACHEVOL_COMPILE_CACHE` that turn the cache off. */
const OFF = new Set(['0', 'off', 'false', 'no']);

/**
 * Where the compiled code of the `cachevol` command is kept between runs, or `null` for none:
 * `CACHEVOL_COMPILE_CACHE` (an absolute path, or `off`), else `$XDG_CACHE_HOME/cachevol/compile`,
 * else `~/.cache/cachevol/compile`.
 *
 * @param env - the environment to read
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | null {
  const chosen = env.CACHEVOL_COMPILE_CACHE;
  if (chosen !== undefined && chosen !== '') {
    if (OFF.has(chosen.toLowerCase())) return null;
    return isAbsolute(chosen) ? chosen : null;
  }
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'cachevol', 'compile');
  const home = homedir();
  return home && isAbsolute(home) ? join(home, '.cache', 'cachevol', 'compile') : null;
}

/**
 * A directory only this user can write, made if missing; `false` when it is not one (another
 * owner, writable by group or others, a symlink): compiled code read from it runs as this user.
 */
function privateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    const ours = process.getuid === undefined || stat.uid === process.getuid();
    return stat.isDirectory() && ours && (stat.mode & 0o022) === 0;
  } catch (error) {
    debug('compile cache %s: %s', dir, String(error));
    return false;
  }
}

/**
 * A 53-bit hash of `text` as 11 base-36 digits (cyrb53): names a set of cached data, nothing
 * more (V8 checks each file's source and flags itself). Not node:crypto, whose loading alone
 * costs a `cachevol --help` 4 ms.
 */
export function shortHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36).padStart(11, '0');
}

/** A script compiled without usable cached data, and where its data goes at exit. */
interface Pending {
  script: Script;
  file: string;
}

/**
 * Keeps V8's compiled code of the CommonJS files under `distDir` (the `cachevol` bundle's
 * chunks) in {@link compileCacheDir}, so that a command does not parse and compile its half
 * megabyte of core and zod again each time it starts. Node 22.1+ does this itself
 * (`module.enableCompileCache`); on Node 20 each chunk is compiled with `vm.Script` and its
 * `cachedData`, as Node compiles a CommonJS module otherwise. The cached data of a file that
 * had none (or whose data V8 rejected: another Node, other V8 flags) is written when the
 * process exits, after the command ran, so it holds the functions the command compiled; one
 * set is kept per command name (`run`, `attach`, ...) and per build of the bundle, and a new
 * build's set replaces the old one. Any failure leaves the command running uncached
 * (`NODE_DEBUG=cachevol` shows why).
 *
 * @param distDir - the bundle's directory; only files below it are cached
 * @param command - the command about to run (a partition of the cache; `other` unless a word)
 * @param env - the environment (`CACHEVOL_COMPILE_CACHE`, `XDG_CACHE_HOME`)
 */
export function enableCompileCache(distDir: string, command: string, env: NodeJS.ProcessEnv): void {
  const root = compileCacheDir(env);
  if (root === null || !privateDir(root)) return;
  const builtin = (Module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (builtin) {
    builtin(root);
    return;
  }
  let build: string;
  try {
    const main = statSync(join(distDir, 'main.cjs'));
    build = shortHash(`${main.size}\0${main.mtimeMs}\0${main.ino}`);
  } catch (error) {
    debug('compile cache: %s', String(error));
    return;
  }
  const install = shortHash(
    `${process.version}\0${process.arch}\0${process.execArgv.join('\0')}\0${distDir}`,
  );
  const dir = join(root, `${install}-${build}`);
  if (!privateDir(dir)) return;
  const part = /^[a-z][a-z-]{0,31}$/.test(command) ? command : 'other';
  const pending: Pending[] = [];
  let fromCache = 0;
  const compile = (Module.prototype as unknown as { _compile: Compile })._compile;
  (Module.prototype as unknown as { _compile: Compile })._compile = function (content, filename) {
    if (!filename.startsWith(distDir + sep) || !filename.endsWith('.cjs')) {
      return compile.call(this, content, filename);
    }
    // The file's own size and time in the name too: V8 checks only the length of the source.
    const { size, mtimeMs } = statSync(filename);
    const file = join(dir, `${basename(filename)}.${part}.${shortHash(`${size}\0${mtimeMs}`)}`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    const script = new Script(Module.wrap(content), { filename, cachedData });
    if (cachedData === undefined || script.cachedDataRejected) pending.push({ script, file });
    else fromCache++;
    const wrapper = script.runInThisContext({ displayErrors: true }) as ModuleWrapper;
    return wrapper.call(
      this.exports,
      this.exports,
      createRequire(filename),
      this,
      filename,
      dirname(filename),
    );
  };
  process.once('exit', () => {
    debug('compile cache %s: %d files from the cache, %d written', dir, fromCache, pending.length);
    if (pending.length > 0) save(pending, root, install, dir);
  });
}

type Compile = (this: NodeJS.Module, content: string, filename: string) => unknown;
type ModuleWrapper = (
  this: unknown,
  exports: unknown,
  require: NodeJS.Require,
  module: NodeJS.Module,
  filename: string,
  dirname: string,
) => unknown;

/** Writes the pending cached data (each file whole or not at all) and drops older builds' sets. */
function save(pending: Pending[], root: string, install: string, dir: string): void {
  for (const { script, file } of pending) {
    const temp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
      renameSync(temp, file);
    } catch (error) {
      debug('compile cache %s: %s', file, String(error));
      rmSync(temp, { force: true });
    }
  }
  try {
    for (const name of readdirSync(root)) {
      if (name.startsWith(`${install}-`) && join(root, name) !== dir) {
        rmSync(join(root, name), { recursive: true, force: true });
      }
    }
  } catch (error) {
    debug('compile cache %s: %s', root, String(error));
  }
}
