import type { Command } from './sync-filesystem.js';

/** How file data is copied: a reflink that may fall back, a reflink or nothing, or bytes. */
export type CloneMode = 'clone-or-copy' | 'clone' | 'copy';

const GNU_REFLINK: Record<CloneMode, string> = {
  'clone-or-copy': '--reflink=auto',
  clone: '--reflink=always',
  copy: '--reflink=never',
};

/**
 * The command that copies the directory tree `from` to the new path `to` (which must not
 * exist), keeping everything `cp -a` keeps: file types (directories, regular files, symlinks
 * verbatim and never followed, FIFOs, sockets, device files), hard links within the tree,
 * holes of sparse files, permissions, owners (when run as root), timestamps and extended
 * attributes (`user.*`, and `trusted.*`/`security.*` when run as root).
 *
 * - Linux and others (GNU coreutils): `cp -a -T --reflink=auto|always|never -- <from> <to>`;
 *   `-T` makes `to` the copy itself, never a directory to copy into.
 * - macOS (BSD `cp`, not tested here): `cp -a [-c] -- <from>/ <to>`; `-c` clones with
 *   `clonefile(2)`, and a trailing `/` copies the contents into the new `to`.
 *
 * @param from - the source directory (absolute)
 * @param to - the destination, created by the copy (absolute)
 * @param clone - how file data is copied
 * @param platform - `process.platform`
 */
export function copyCommand(
  from: string,
  to: string,
  clone: CloneMode,
  platform: NodeJS.Platform = process.platform,
): Command {
  if (platform === 'darwin') {
    return { command: 'cp', args: ['-a', ...(clone === 'copy' ? [] : ['-c']), '--', `${from}/`, to] };
  }
  return { command: 'cp', args: ['-a', '-T', GNU_REFLINK[clone], '--', from, to] };
}

/** The command whose output tells whether `cp` is GNU coreutils' (which {@link copyCommand} needs off macOS). */
export const CP_VERSION_COMMAND: Command = { command: 'cp', args: ['--version'] };
