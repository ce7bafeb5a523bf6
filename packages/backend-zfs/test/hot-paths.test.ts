import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isCacheVolumeError } from '@cachevol/core';
import { nodeFileAccess } from '@cachevol/core/testing';
import { expect, it } from 'vitest';
import { describeWith } from '../../../test-support/gate.js';
import { createZfsBackendWith } from '../src/internal/operations.js';
import { processRunner, type ZfsRunner } from '../src/internal/runner.js';
import { parseZfsBackendOptions } from '../src/options.js';
import type { ZfsBackend } from '../src/types.js';
import { run, useTestPool } from './zfs-pool.js';

const fork = { capacityBytes: 64 * 1024 * 1024 };

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCacheVolumeError(error) ? error.code : String(error);
}

/** Real `zfs`, recording each command as `<subcommand> <last argument>` (names relative to the root). */
function recordingRunner(root: string): ZfsRunner & { commands: string[] } {
  const real = processRunner('zfs');
  const commands: string[] = [];
  return {
    commands,
    async run(args) {
      const names = args.filter((arg) => arg.startsWith(`${root}/`)).map((arg) => arg.slice(root.length + 1));
      commands.push([args[0], ...names].join(' '));
      return real.run(args);
    },
  };
}

describeWith('zfs', 'zfs backend hot paths: commands run, and the error paths they fall back to', () => {
  const pool = useTestPool();
  const fresh = async () => {
    const dataset = await pool.newDataset();
    const runner = recordingRunner(dataset);
    const backend: ZfsBackend = createZfsBackendWith(parseZfsBackendOptions({ dataset }), runner);
    return { backend, dataset, commands: runner.commands };
  };

  it('runs one tree read per backend object, then one command per fork and one per commit (filing after)', async () => {
    const { backend, commands } = await fresh();
    await backend.createFork('f1', fork);
    expect(commands.splice(0)).toEqual(['get', 'create forks', 'create versions', 'create forks/f1']);

    // The commit is the snapshot (its size read with statfs: no `zfs get`); the filing starts
    // after it returned.
    const usage = await backend.commitFork('f1', 'v1');
    expect(commands).toEqual(['snapshot forks/f1@v']);
    await backend.idle();
    expect(commands.splice(0)).toEqual([
      'snapshot forks/f1@v',
      'unmount forks/f1',
      'rename forks/f1 versions/v1',
    ]);
    expect(usage).toEqual(await backend.usage('version', 'v1'));
    commands.splice(0);
    const a = await backend.forkVersion('f2', 'v1', fork);
    expect(commands.splice(0)).toEqual(['clone versions/v1@v forks/f2']);
    await nodeFileAccess.write(a.mountPath, 'x.txt', 'x');
    await backend.createFork('f3', fork);
    expect(commands.splice(0)).toEqual(['create forks/f3']);
  });

  it('returns the existing fork on a retry, mounting it and setting a missing refquota', async () => {
    const { backend, dataset, commands } = await fresh();
    const first = await backend.createFork('f1', fork);
    await nodeFileAccess.write(first.mountPath, 'kept.txt', 'kept');
    // As if a crash had come between creating the dataset and setting it up.
    await run('zfs', ['unmount', `${dataset}/forks/f1`]);
    await run('zfs', ['set', 'refquota=none', `${dataset}/forks/f1`]);
    commands.splice(0);
    const again = await backend.createFork('f1', fork);
    expect(again).toEqual(first);
    expect(commands).toEqual(['create forks/f1', 'get forks/f1', 'set forks/f1', 'mount forks/f1']);
    expect(await nodeFileAccess.read(again.mountPath, 'kept.txt')).toBe('kept');
    expect(await pool.get(`${dataset}/forks/f1`, 'refquota')).toBe(String(fork.capacityBytes));

    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    expect(await backend.forkVersion('f2', 'v1', fork)).toEqual(b);
  });

  it('maps a missing version, a removed one and a full pool without leaving a fork behind', async () => {
    const { backend, dataset } = await fresh();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    await backend.idle();
    const names = await pool.names(dataset);
    expect(await codeOf(backend.forkVersion('f2', 'nope', fork))).toBe('NOT_FOUND');
    expect(await codeOf(backend.forkVersion('f2', 'v1', { capacityBytes: 1024 }))).toBe('CAPACITY_EXCEEDED');
    await backend.forkVersion('f3', 'v1', fork);
    await backend.removeVersion('v1');
    const marked = await pool.names(dataset);
    expect(await codeOf(backend.forkVersion('f4', 'v1', fork))).toBe('NOT_FOUND');
    expect(await pool.names(dataset)).toEqual(marked);
    await backend.discardFork('f3');
    expect(await pool.names(dataset)).toEqual(names.filter((name) => !name.includes('/versions/v1')));
  });

  it('refuses to fork a version another process marked removed, also when it died before its mark file', async () => {
    const { backend, dataset } = await fresh();
    await backend.createFork('f1', fork);
    await backend.commitFork('f1', 'v1');
    await backend.createFork('f2', fork);
    await backend.commitFork('f2', 'v2');
    await backend.forkVersion('f3', 'v1', fork);
    await backend.forkVersion('f4', 'v2', fork);
    // Another process removes v1 (the property, then the mark) and dies before v2's mark.
    const other = createZfsBackendWith(parseZfsBackendOptions({ dataset }), processRunner('zfs'));
    await other.removeVersion('v1');
    await run('zfs', ['set', 'cachevol:deleted=on', `${dataset}/versions/v2`]);
    expect(await codeOf(backend.forkVersion('f5', 'v1', fork))).toBe('NOT_FOUND');
    const third = createZfsBackendWith(parseZfsBackendOptions({ dataset }), processRunner('zfs'));
    expect(await codeOf(third.forkVersion('f6', 'v2', fork))).toBe('NOT_FOUND');
    expect(await third.list()).toEqual([
      { kind: 'fork', id: 'f3' },
      { kind: 'fork', id: 'f4' },
    ]);
    // Once their last forks are gone the versions are destroyed, and so are their marks.
    await third.discardFork('f3');
    await third.discardFork('f4');
    expect(await pool.names(dataset)).not.toContain(`${dataset}/versions/v1`);
    const fresh2 = createZfsBackendWith(parseZfsBackendOptions({ dataset }), processRunner('zfs'));
    const f7 = await fresh2.createFork('f7', fork);
    expect((await readdir(dirname(f7.mountPath))).filter((name) => name.startsWith('.removed-'))).toEqual([]);
  });

  it('commits idempotently and refuses an existing version, leaving the fork usable', async () => {
    const { backend, dataset, commands } = await fresh();
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.write(a.mountPath, 'a.txt', 'a');
    const first = await backend.commitFork('f1', 'v1');
    await backend.idle();
    commands.splice(0);
    expect(await backend.commitFork('f1', 'v1')).toEqual(first);
    expect(commands.filter((c) => c.startsWith('snapshot'))).toEqual([]);
    expect(await codeOf(backend.commitFork('ghost', 'v2'))).toBe('NOT_FOUND');

    const b = await backend.forkVersion('f2', 'v1', fork);
    await nodeFileAccess.write(b.mountPath, 'b.txt', 'b');
    expect(await codeOf(backend.commitFork('f2', 'v1'))).toBe('ALREADY_EXISTS');
    expect(await pool.names(dataset)).not.toContain(`${dataset}/forks/f2@v`);
    await nodeFileAccess.write(b.mountPath, 'c.txt', 'c');
    expect(await nodeFileAccess.list(b.mountPath)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    await backend.commitFork('f2', 'v2');
    const c = await backend.forkVersion('f3', 'v2', fork);
    expect(await nodeFileAccess.list(c.mountPath)).toEqual(['a.txt', 'b.txt', 'c.txt']);
  });

  it('retakes a snapshot left by an interrupted commit, so later writes are in the version', async () => {
    const { backend, dataset } = await fresh();
    const a = await backend.createFork('f1', fork);
    await nodeFileAccess.write(a.mountPath, 'early.txt', 'early');
    await run('zfs', ['snapshot', `${dataset}/forks/f1@v`]);
    await nodeFileAccess.write(a.mountPath, 'late.txt', 'late');
    await backend.commitFork('f1', 'v1');
    const b = await backend.forkVersion('f2', 'v1', fork);
    expect(await nodeFileAccess.list(b.mountPath)).toEqual(['early.txt', 'late.txt']);
  });

  it('uses a commit whose filing was cut short as its version, from another backend object', async () => {
    const { dataset } = await fresh();
    const real = processRunner('zfs');
    // The first process: the rename that files the version never happens (as if it died).
    const dying: ZfsRunner = {
      run: (args) => (args[0] === 'rename' ? Promise.reject(new Error('killed')) : real.run(args)),
    };
    const first = createZfsBackendWith(parseZfsBackendOptions({ dataset }), dying);
    const a = await first.createFork('f1', fork);
    await nodeFileAccess.write(a.mountPath, 'kept.txt', 'kept');
    const usage = await first.commitFork('f1', 'v1');
    await first.idle();
    expect(await pool.names(dataset)).toContain(`${dataset}/forks/f1@v`);

    const second = createZfsBackendWith(parseZfsBackendOptions({ dataset }), real);
    expect(await second.list()).toEqual([{ kind: 'version', id: 'v1' }]);
    expect(await second.usage('version', 'v1')).toEqual(usage);
    await second.discardFork('f1'); // the fork id is gone: this must not destroy the version
    const b = await second.forkVersion('f3', 'v1', fork);
    expect(await nodeFileAccess.read(b.mountPath, 'kept.txt')).toBe('kept');
    expect(await pool.names(dataset)).toContain(`${dataset}/versions/v1@v`);
    await second.removeVersion('v1');
    await second.discardFork('f3');
    expect(await second.list()).toEqual([]);
  });

  it('makes the layout again when it went away under a running backend', async () => {
    const { backend, dataset } = await fresh();
    await backend.createFork('f1', fork);
    await backend.discardFork('f1');
    await pool.destroyDataset(`${dataset}/forks`);
    await pool.destroyDataset(`${dataset}/versions`);
    const a = await backend.createFork('f2', fork);
    await nodeFileAccess.write(a.mountPath, 'x.txt', 'x');
    await pool.destroyDataset(`${dataset}/versions`);
    await backend.commitFork('f2', 'v1');
    expect(await backend.list()).toEqual([{ kind: 'version', id: 'v1' }]);
    const b = await backend.forkVersion('f3', 'v1', fork);
    expect(await nodeFileAccess.read(b.mountPath, 'x.txt')).toBe('x');
  });
});
