import type { Store } from '../contracts/store.js';
import type { VolumeSlice } from '../model/state.js';

/**
 * Reads every volume's slice from a store, page by page (for tests and invariant checks).
 *
 * @param store - the store
 * @param pageSize - volumes per page
 */
export async function readAllSlices(store: Store, pageSize?: number): Promise<VolumeSlice[]> {
  const slices: VolumeSlice[] = [];
  let after: string | null = null;
  do {
    const page = await store.listVolumes({ after, limit: pageSize });
    slices.push(...page.slices);
    after = page.next;
  } while (after !== null);
  return slices;
}
