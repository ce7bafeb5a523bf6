import type { Backend } from '@cachevol/core';

/** The ZFS backend: a `Backend` named `zfs`, plus the dataset it works under. */
export interface ZfsBackend extends Backend {
  /** Always `"zfs"`. */
  readonly name: 'zfs';
  /** The parent dataset (from the options). */
  readonly dataset: string;
  /**
   * Checks, without changing anything, that `zfs` runs and that the parent dataset exists and is
   * a filesystem; every method checks this too, so calling it is optional. Lets a service fail
   * at start-up rather than on its first job.
   *
   * @throws `CacheVolumeError` `BACKEND_UNAVAILABLE` saying what to install, start or create
   */
  ready(): Promise<void>;
  /**
   * Resolves once the work this backend object does after a commit returned is done: the
   * committed fork is filed under `versions/` (an unmount and a rename). Until then the
   * version is used where it is, so nothing needs to wait for this; a process that exits
   * without waiting leaves the filing to a later call, which does it when it meets the version.
   */
  idle(): Promise<void>;
}
