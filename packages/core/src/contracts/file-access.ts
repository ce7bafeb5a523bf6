/**
 * How the test suites read and write files inside a fork, given its mount path. Backends that
 * mount real directories use `nodeFileAccess` (from `@cachevol/core/testing`); in-memory backends
 * supply their own. It lives in the main entry so that a backend can export one without its
 * public types needing the testing kit (and its fast-check and vitest peers).
 */
export interface FileAccess {
  /**
   * Writes a UTF-8 file, creating parent directories.
   * @param mountPath - the fork's mount path
   * @param path - relative path inside the fork
   * @param text - the content
   */
  write(mountPath: string, path: string, text: string): Promise<void>;
  /**
   * Reads a UTF-8 file.
   * @param mountPath - the fork's mount path
   * @param path - relative path inside the fork
   * @returns the content, or `undefined` when the file does not exist
   */
  read(mountPath: string, path: string): Promise<string | undefined>;
  /**
   * Deletes a file; a missing file is fine.
   * @param mountPath - the fork's mount path
   * @param path - relative path inside the fork
   */
  remove(mountPath: string, path: string): Promise<void>;
  /**
   * Every regular file under the mount, as sorted relative `/`-separated paths.
   * @param mountPath - the fork's mount path
   */
  list(mountPath: string): Promise<string[]>;
  /**
   * Writes `bytes` bytes of incompressible data to a file (for capacity tests). Rejects when
   * the filesystem refuses (ENOSPC, EDQUOT or `CAPACITY_EXCEEDED`).
   * @param mountPath - the fork's mount path
   * @param path - relative path inside the fork
   * @param bytes - how many bytes
   */
  fill(mountPath: string, path: string, bytes: number): Promise<void>;
}
