import { existsSync, readFileSync, renameSync } from 'node:fs';
import {
  CacheVolumeError,
  type LegacyStateDocument,
  legacyStateProblem,
  slicesFromLegacyState,
} from '@cachevol/core';
import type { Connection } from './connection.js';
import { nothingLoaded, type Tables } from './tables.js';
import { WRITER } from './version.js';

/** The `meta` key recording that a `state.json` was imported (a JSON object). */
export const LEGACY_IMPORT_KEY = 'legacy_import';

/** What a finished import recorded. */
export interface LegacyImport {
  /** The file imported. */
  file: string;
  /** When (ms since epoch). */
  importedAt: number;
  /** The package version that imported it. */
  by: string;
  /** Volume records imported. */
  volumes: number;
  /** Forks imported. */
  forks: number;
}

/** Where an imported file is kept, as the backup of what was imported. */
export const importedPath = (file: string): string => `${file}.imported`;

/** Reads and checks the legacy file; `null` when it vanished (another process imported it). */
function readLegacyFile(file: string): LegacyStateDocument | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CacheVolumeError(
      'STORE_FAILED',
      `Cannot read the state file ${file} to import it: ${(error as Error).message}. Check that it is readable by this process; nothing was imported.`,
      { cause: error, details: { file } },
    );
  }
  let problem: string | null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    problem = legacyStateProblem(parsed);
  } catch (error) {
    problem = `it is not valid JSON (${(error as Error).message})`;
  }
  if (problem) {
    const bak = `${file}.bak`;
    throw new CacheVolumeError(
      'STORE_FAILED',
      `The state file ${file} is corrupt: ${problem}. Nothing was imported and the file was not changed. Inspect it; if ${bak} holds a good state, restore it (mv ${bak} ${file}) and open the store again; or move ${file} aside to start from an empty database (reconcile then removes the versions nothing records).`,
      { details: { file, backup: bak, problem } },
    );
  }
  return parsed as LegacyStateDocument;
}

/**
 * Imports a first-release `state.json` once, when the database opens: if the file exists, the
 * database holds no volume and no fork, and no import was recorded, every volume and fork of
 * the file is written in one (durable) transaction together with the `meta` row that records
 * the import; then the file is renamed to `<file>.imported`, kept as the backup. A failure at
 * any point before the commit leaves the database empty and the file untouched; if the rename
 * fails, the `meta` row still prevents a second import. Processes opening the store at once
 * import it once: the check and the import run under the write lock.
 *
 * @param conn - the connection
 * @param tables - its statements
 * @param file - the `state.json`
 * @param path - the database file, for messages
 * @returns what was imported, or `null` when nothing was
 * @throws `STORE_FAILED` for a corrupt or unreadable file, or a database that already holds data
 */
export function importLegacyState(
  conn: Connection,
  tables: Tables,
  file: string,
  path: string,
): LegacyImport | null {
  if (!existsSync(file) || tables.meta(LEGACY_IMPORT_KEY) !== null) return null;
  const done = conn.write(true, (): LegacyImport | null => {
    if (tables.meta(LEGACY_IMPORT_KEY) !== null) return null;
    if (!tables.isEmpty()) {
      throw new CacheVolumeError(
        'STORE_FAILED',
        `Both the SQLite database ${path} and the state file ${file} hold cachevol state, and ${file} was never imported. cachevol will not merge them. If ${path} is the state to keep, move ${file} aside (or stop passing importFrom); to import ${file} instead, stop every cachevol process and move ${path}, ${path}-wal and ${path}-shm aside, then open the store again.`,
        { details: { path, file } },
      );
    }
    const doc = readLegacyFile(file);
    if (!doc) return null;
    const slices = slicesFromLegacyState(doc);
    let forks = 0;
    for (const slice of slices) {
      try {
        tables.write(slice, nothingLoaded(slice), slice);
      } catch (error) {
        throw new CacheVolumeError(
          'STORE_FAILED',
          `Cannot import the state file ${file}: volume ${slice.scope}/${slice.name} cannot be stored (${(error as Error).message}). Nothing was imported and the file was not changed. Fix that volume in ${file}, or move the file aside to start from an empty database.`,
          { cause: error, details: { path, file, scope: slice.scope, name: slice.name } },
        );
      }
      forks += Object.keys(slice.forks).length;
    }
    const record: LegacyImport = {
      file,
      importedAt: Date.now(),
      by: WRITER,
      volumes: slices.filter((slice) => slice.volume !== null).length,
      forks,
    };
    tables.setMeta(LEGACY_IMPORT_KEY, JSON.stringify(record));
    return record;
  });
  if (done && !existsSync(importedPath(file))) {
    try {
      renameSync(file, importedPath(file));
    } catch {
      // The meta row already prevents a second import; the file just keeps its name.
    }
  }
  return done;
}
