import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { CacheVolumeError, expandNameTemplate, hasNameTemplate } from '@cachevol/core';

/**
 * The digest behind `{{ checksum "FILE" ... }}` in volume names: sha256 over each file's path as
 * written and its contents, in the order given, as 16 hex digits. The files are read in the
 * working directory and must stay inside it (no absolute path, no `..`, no symlink out).
 *
 * @param workdir - the job's working directory (the checkout)
 * @returns the digest function `expandNameTemplate` and `parsePipeline` take
 */
export function fileChecksum(workdir: string): (files: readonly string[]) => string {
  return (files) => {
    const hash = createHash('sha256');
    for (const file of files) {
      hash.update(file).update('\0').update(readInside(workdir, file)).update('\0');
    }
    return hash.digest('hex').slice(0, 16);
  };
}

function readInside(workdir: string, file: string): Buffer {
  const refuse = (why: string): never => {
    throw new CacheVolumeError('INVALID_ARGUMENT', `Cannot checksum "${file}": ${why}.`, {
      details: { file, workdir },
    });
  };
  const inside = (path: string, dir: string) => {
    const rel = relative(dir, path);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  };
  if (isAbsolute(file) || !inside(resolve(workdir, file), workdir))
    refuse(`a checksum file is a path inside the working directory ${workdir}`);
  try {
    const real = realpathSync(resolve(workdir, file));
    if (!inside(real, realpathSync(workdir))) refuse(`it leads outside the working directory ${workdir}`);
    return readFileSync(real);
  } catch (error) {
    if (error instanceof CacheVolumeError) throw error;
    return refuse(`${(error as NodeJS.ErrnoException).code ?? String(error)} (in ${workdir})`);
  }
}

/**
 * A volume name with its template tokens expanded (`{{ checksum "FILE" }}`, `{{ os }}`,
 * `{{ arch }}`); a name without tokens as is.
 *
 * @param name - the name as given
 * @param workdir - where checksum files are read
 * @param os - what `{{ os }}` stands for
 */
export function expandName(name: string, workdir: string, os: string): string {
  if (!hasNameTemplate(name)) return name;
  return expandNameTemplate(name, { checksum: fileChecksum(workdir), os, arch: process.arch });
}
