import { randomBytes } from 'node:crypto';
import { copyFile, link, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CacheVolumeError, emptyState, type State } from '@cachevol/core';

const errnoCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why a parsed document is not a {@link State}, or `null` when it is one (checked shallowly:
 * the model's own functions check records as they use them).
 *
 * @param value - the parsed JSON
 */
export function stateProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'it is not a JSON object';
  if (value.schema !== 1) {
    return typeof value.schema === 'number'
      ? `it has schema ${value.schema}, and this cachevol reads schema 1 (was it written by a newer cachevol?)`
      : 'it has no "schema": 1 field';
  }
  if (!isRecord(value.volumes)) return '"volumes" is not an object';
  if (!isRecord(value.forks)) return '"forks" is not an object';
  return null;
}

/** The path of the previous good state kept beside the state file. */
export const backupPath = (path: string): string => `${path}.bak`;

/** A state file's content as read: the parsed state and its exact text (`null` when absent). */
export interface StateDocument {
  /** The state (empty when the file does not exist). */
  state: State;
  /** The file's text, or `null` when it does not exist. */
  text: string | null;
}

/**
 * Reads and checks the state file. A missing file is an empty state; a corrupt one is an error
 * that names the file and says how to recover, and is never replaced.
 *
 * @param path - the state file
 * @throws `STORE_FAILED` for an unreadable or corrupt file
 */
export async function readStateFile(path: string): Promise<StateDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { state: emptyState(), text: null };
    throw new CacheVolumeError(
      'STORE_FAILED',
      `Cannot read the state file ${path}: ${(error as Error).message}. Check that it is readable by this process.`,
      {
        cause: error,
        details: { path, errno: errnoCode(error) },
      },
    );
  }
  let parsed: unknown;
  let problem: string | null;
  try {
    parsed = JSON.parse(text);
    problem = stateProblem(parsed);
  } catch (error) {
    problem = `it is not valid JSON (${(error as Error).message})`;
  }
  if (problem) {
    const bak = backupPath(path);
    throw new CacheVolumeError(
      'STORE_FAILED',
      `The state file ${path} is corrupt: ${problem}. cachevol will not overwrite it. Inspect it; if ${bak} holds a good state, restore it (mv ${bak} ${path}); or move the file aside to start from an empty state (reconcile then removes the versions nothing records).`,
      { details: { path, backup: bak, problem } },
    );
  }
  return { state: parsed as State, text };
}

/**
 * Serialises a state the way {@link writeStateFile} writes it.
 *
 * @param state - the state
 */
export function serializeState(state: State): string {
  return `${JSON.stringify(state)}\n`;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoCode(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the state file atomically: writes a temporary file in the same directory, flushes
 * it, keeps the current file as `<path>.bak` (a hard link, so no data is copied), renames the
 * temporary file over the state file, and flushes the directory. A reader sees the old or the
 * new document, never a mix; a crash leaves at most a stray temporary file.
 *
 * Call it only while holding the store's lock.
 *
 * @param path - the state file
 * @param text - the new content (see {@link serializeState})
 * @param hasCurrent - whether a good current file exists to keep as the backup
 */
export async function writeStateFile(path: string, text: string, hasCurrent: boolean): Promise<void> {
  const suffix = `${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const tmp = `${path}.${suffix}`;
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (hasCurrent) {
      const bakTmp = `${backupPath(path)}.${suffix}`;
      await link(path, bakTmp).catch(() => copyFile(path, bakTmp));
      await rename(bakTmp, backupPath(path));
    }
    await rename(tmp, path);
    await fsyncDirectory(dirname(path));
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CacheVolumeError(
      'STORE_FAILED',
      `Cannot write the state file ${path}: ${(error as Error).message}. Check free space and permissions of ${dirname(path)}.`,
      {
        cause: error,
        details: { path, errno: errnoCode(error) },
      },
    );
  }
}

/**
 * Deletes temporary files that crashed writers left beside the state file. Call it only while
 * holding the lock: then no other writer has a temporary file in progress.
 *
 * @param path - the state file
 */
export async function removeStrayTempFiles(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const stray = /^\d+\.[0-9a-f]{12}\.tmp$/;
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (name.startsWith(prefix) && stray.test(name.slice(prefix.length)))
      await rm(join(dirname(path), name), { force: true });
    else if (name.startsWith(`${prefix}bak.`) && stray.test(name.slice(prefix.length + 4)))
      await rm(join(dirname(path), name), { force: true });
  }
}
