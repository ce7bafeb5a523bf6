import type { Store } from '@cachevol/core';

/** A {@link Store} kept in an SQLite database; see {@link createSqliteStore}. */
export interface SqliteStore extends Store {
  /** The absolute path of the database file. */
  readonly path: string;
}
