import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Tells whether the filesystem holding `dir` can clone files (reflink: btrfs, XFS with
 * reflink, APFS, ...): copies a small file there with `COPYFILE_FICLONE_FORCE`, which fails
 * rather than falling back to a byte copy.
 *
 * @param dir - an existing, writable directory on the filesystem to probe
 */
export function probeReflink(dir: string): boolean {
  const stem = join(dir, `reflink-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(`${stem}.a`, 'cachevol reflink probe\n');
    copyFileSync(`${stem}.a`, `${stem}.b`, constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(`${stem}.a`, { force: true });
    rmSync(`${stem}.b`, { force: true });
  }
}
