import { join } from 'node:path';
import { isCacheVolumeError } from '@cachevol/core';
import { nodeFileAccess } from '@cachevol/core/testing';
import { expect, it } from 'vitest';
import { describeWith } from '../../../test-support/gate.js';
import { waitFor } from '../../../test-support/wait.js';
import { createZfsBackend, type ZfsBackend } from '../src/index.js';
import { run, useTestPool } from './zfs-pool.js';

const MIB = 1 << 20;
const fork = { capacityBytes: 64 * MIB };

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCacheVolumeError(error) ? error.code : String(error);
}

/** Polls until `check` holds (ZFS space accounting lags writes, and frees lag more). */
function eventually(what: string, check: () => Promise<boolean>): Promise<boolean> {
  return waitFor(check, { what, timeoutMs: 60_000, intervalMs: 250 });
}

describeWith('zfs', 'zfs backend specifics on a real pool', () => {
  const pool = useTestPool();
  const layoutNames = (dataset: string) => [dataset, `${dataset}/forks`, `${dataset}/versions`].sort();
  const fresh = async (): Promise<ZfsBackend> => createZfsBackend({ dataset: await pool.newDataset() });

  it('keeps a removed version until its last clone goes, then destroys it', async () => {
    const backend = await fresh();
    const root = backend.dataset;
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.write(a.mountPath, 'data.txt', 'v1 data');
    await backend.commitFork('f1', 'v1');
    const child = await backend.forkVersion('f2', 'v1', fork);
    await backend.removeVersion('v1');

    expect(await backend.list()).toEqual([{ kind: 'fork', id: 'f2' }]);
    expect(await pool.get(`${root}/versions/v1`, 'cachevol:deleted')).toBe('on');
    expect(await codeOf(backend.forkVersion('f3', 'v1', fork))).toBe('NOT_FOUND');
    expect(await pool.names(root), 'the fork cloned alongside the check is gone').not.toContain(
      `${root}/forks/f3`,
    );
    expect(await codeOf(backend.usage('version', 'v1'))).toBe('NOT_FOUND');
    expect(await nodeFileAccess.read(child.mountPath, 'data.txt')).toBe('v1 data');
    await nodeFileAccess.write(child.mountPath, 'data.txt', 'still writable');
    expect(await nodeFileAccess.read(child.mountPath, 'data.txt')).toBe('still writable');

    await backend.discardFork('f2');
    expect(await backend.list()).toEqual([]);
    expect(await pool.names(root)).toEqual(layoutNames(root));
  });

  it('destroys a chain of removed versions once the last dependent goes (walking up origins)', async () => {
    const backend = await fresh();
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.write(a.mountPath, 'a.txt', 'a');
    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    await nodeFileAccess.write(b.mountPath, 'b.txt', 'b');
    await backend.commitFork('f2', 'v2');
    const c = await backend.forkVersion('f3', 'v2', fork);
    await backend.removeVersion('v1');
    await backend.removeVersion('v2');
    expect(await backend.list()).toEqual([{ kind: 'fork', id: 'f3' }]);
    expect(await nodeFileAccess.list(c.mountPath)).toEqual(['a.txt', 'b.txt']);
    expect(await pool.names(backend.dataset)).toContain(`${backend.dataset}/versions/v1`);

    await backend.discardFork('f3');
    expect(await pool.names(backend.dataset)).toEqual(layoutNames(backend.dataset));
  });

  it('forks and commits without copying data, and reclaims the space after the last dependent goes', async () => {
    const backend = await fresh();
    const root = backend.dataset;
    const used = async () => Number(await pool.get(root, 'used'));
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.fill(a.mountPath, 'big.bin', 16 * MIB);
    await backend.commitFork('f1', 'v1');
    await eventually('the 16 MiB version is accounted for', async () => (await used()) >= 16 * MIB);
    const withVersion = await used();

    const child = await backend.forkVersion('f2', 'v1', fork);
    // Upper bounds hold only once the clone's transaction group is synced: wait for that, not
    // for a time.
    await pool.settle();
    expect(await used(), 'a fork shares its version’s blocks').toBeLessThan(withVersion + 2 * MIB);
    expect(Number(await pool.get(`${root}/forks/f2`, 'used'))).toBeLessThan(2 * MIB);
    expect(
      (await backend.usage('fork', 'f2')).usedBytes,
      'usage is what the fork shows',
    ).toBeGreaterThanOrEqual(16 * MIB);

    await backend.removeVersion('v1');
    await pool.settle();
    expect(await used(), 'the fork still needs the removed version’s blocks').toBeGreaterThanOrEqual(
      16 * MIB,
    );
    expect((await nodeFileAccess.list(child.mountPath)).includes('big.bin')).toBe(true);

    await backend.discardFork('f2');
    await eventually('the version’s space is freed', async () => (await used()) < withVersion - 12 * MIB);
  });

  it('reports what a fork or version shows (referenced), which its refquota limits', async () => {
    const backend = await fresh();
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.fill(a.mountPath, 'big.bin', 4 * MIB);
    await eventually(
      'the fork shows 4 MiB',
      async () => (await backend.usage('fork', 'f1')).usedBytes >= 4 * MIB,
    );
    const committed = await backend.commitFork('f1', 'v1');
    expect(committed.usedBytes).toBeGreaterThanOrEqual(4 * MIB);
    expect((await backend.usage('version', 'v1')).usedBytes).toBe(committed.usedBytes);
    expect(String(committed.usedBytes)).toBe(await pool.get(`${backend.dataset}/versions/v1`, 'referenced'));
  });

  it('mounts forks under mountRoot when given', async () => {
    const dataset = await pool.newDataset();
    const mountRoot = join(pool.dir, 'mounts', dataset.replaceAll('/', '_'));
    const backend = createZfsBackend({ dataset, mountRoot });
    const a = await backend.createFork('f1', fork);
    expect(a.mountPath).toBe(join(mountRoot, 'f1'));
    await nodeFileAccess.write(a.mountPath, 'x.txt', 'x');
    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    expect(b.mountPath).toBe(join(mountRoot, 'f2'));
    expect(await nodeFileAccess.read(b.mountPath, 'x.txt')).toBe('x');
    const other = createZfsBackend({ dataset, mountRoot: join(mountRoot, 'elsewhere') });
    expect(await codeOf(other.createFork('f3', fork))).toBe('INVALID_ARGUMENT');
  });

  it('refuses a capacity smaller than the version it forks, creating nothing', async () => {
    const backend = await fresh();
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.fill(a.mountPath, 'big.bin', 8 * MIB);
    await backend.commitFork('f1', 'v1');
    await backend.idle();
    await eventually(
      'the version is accounted for',
      async () => Number(await pool.get(`${backend.dataset}/versions/v1`, 'referenced')) >= 8 * MIB,
    );
    expect(await codeOf(backend.forkVersion('f2', 'v1', { capacityBytes: 2 * MIB }))).toBe(
      'CAPACITY_EXCEEDED',
    );
    expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
    expect(await codeOf(backend.createFork('f3', { capacityBytes: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(backend.createFork('f3', { capacityBytes: 1.5 }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses a parent dataset that does not exist, or is not mountable, and touches nothing', async () => {
    const before = await pool.names(pool.name);
    const missing = createZfsBackend({ dataset: `${pool.name}/does-not-exist` });
    // One at a time: a rejection nobody awaits yet is an unhandled rejection.
    for (const attempt of [
      () => missing.ready(),
      () => missing.list(),
      () => missing.createFork('f1', fork),
      () => missing.forkVersion('f1', 'v1', fork),
      () => missing.commitFork('f1', 'v1'),
      () => missing.discardFork('f1'),
      () => missing.removeVersion('v1'),
    ]) {
      expect(await codeOf(attempt())).toBe('BACKEND_UNAVAILABLE');
    }
    expect(await codeOf(missing.usage('fork', 'f1'))).toBe('NOT_FOUND');
    const error = await missing.list().catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/does-not-exist" does not exist: create it/);
    expect(await codeOf(createZfsBackend({ dataset: 'cachevol-test-no-such-pool/x' }).list())).toBe(
      'BACKEND_UNAVAILABLE',
    );

    const unmountable = `${pool.name}/unmountable`;
    await run('zfs', ['create', '-o', 'mountpoint=none', unmountable]);
    const backend = createZfsBackend({ dataset: unmountable });
    await backend.ready();
    expect(await backend.list()).toEqual([]);
    expect(await codeOf(backend.createFork('f1', fork))).toBe('INVALID_ARGUMENT');
    expect(await pool.names(pool.name)).toEqual([...before, unmountable].sort());
    await pool.destroyDataset(unmountable);
  });
});
