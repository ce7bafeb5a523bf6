import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EntryKind } from '@cachevol/core';
import { isIdName } from '@cachevol/core/backend-kit';

/** The directories under a backend root. */
export const AREAS = ['versions', 'forks', 'tmp', 'trash', 'bases'] as const;

/** One of {@link AREAS}. */
export type Area = (typeof AREAS)[number];

/**
 * Paths under a backend root:
 * - `versions/<id>`: committed versions (never written after commit);
 * - `forks/<id>`: live forks (the mount paths);
 * - `tmp/<kind>.<id>.<random>`: forks being built (renamed into `forks/` when complete);
 * - `trash/<kind>.<id>.<random>`: forks and versions being deleted (renamed here, then removed);
 * - `bases/<fork id>`: the id of the version a live fork was made from (empty for an empty
 *   fork), for change detection. Written before the fork appears, deleted before it goes.
 *
 * A crash leaves only names that {@link parseScratchName} can map back to a kind and id.
 */
export class Layout {
  /**
   * @param root - the absolute backend root
   */
  constructor(readonly root: string) {}

  /**
   * The directory of one area.
   * @param area - which area
   */
  area(area: Area): string {
    return join(this.root, area);
  }

  /**
   * Where a committed version or live fork lives.
   * @param kind - fork or version
   * @param id - a validated id
   */
  entry(kind: EntryKind, id: string): string {
    return join(this.root, kind === 'fork' ? 'forks' : 'versions', id);
  }

  /**
   * The file that records which version a fork was made from.
   * @param forkId - a validated fork id
   */
  base(forkId: string): string {
    return join(this.root, 'bases', forkId);
  }

  /**
   * A fresh, unique scratch path in `tmp/` or `trash/` for an entry.
   * @param area - `tmp` or `trash`
   * @param kind - what it is for
   * @param id - the id it is for
   */
  scratch(area: 'tmp' | 'trash', kind: EntryKind, id: string): string {
    return join(this.root, area, `${kind}.${id}.${randomBytes(6).toString('hex')}`);
  }
}

/**
 * Maps a name in `tmp/` or `trash/` back to the entry it was made for.
 *
 * @param name - a directory entry name, e.g. `fork.f-1.9a3c01d2e4f5`
 * @returns the kind and id, or `null` for a name the backend never makes
 */
export function parseScratchName(name: string): { kind: EntryKind; id: string } | null {
  const parts = name.split('.');
  if (parts.length !== 3) return null;
  const [kind, id] = parts as [string, string, string];
  if ((kind !== 'fork' && kind !== 'version') || !isIdName(id)) return null;
  return { kind, id };
}
