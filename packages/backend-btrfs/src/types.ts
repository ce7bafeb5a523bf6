import type { Backend } from '@cachevol/core';

/** A {@link Backend} on btrfs subvolumes. */
export interface BtrfsBackend extends Backend {
  /** Always `"btrfs"`. */
  readonly name: 'btrfs';
  /** The directory holding `forks/` and `versions/`. */
  readonly root: string;
  /**
   * Checks that `btrfs` runs, creates the layout and, with `quota`, turns quotas on (waiting
   * for the rescan). Every method does this first; call it to fail early.
   * @throws `BACKEND_UNAVAILABLE` when btrfs-progs is not installed
   */
  ready(): Promise<void>;
}
