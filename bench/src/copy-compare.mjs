/**
 * The dir backend's copy against the best system tool on the same tree, in the same cell: each
 * iteration times a `forkVersion` of the dir backend (with a progress callback, as the engine
 * passes one) and a `cp -a` of the same version directory into the same filesystem, in
 * alternating order, flushing (`sync`) and removing both copies between them, untimed.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { now, run, syncAll } from './util.mjs';

const FORK = { capacityBytes: 20 * 2 ** 30 };

/**
 * A subject that compares the dir backend's fork copy with a `cp` command.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {() => string} options.base - the directory (on the filesystem under test) to work in
 * @param {'auto' | 'always' | 'never'} options.reflink - the dir backend's `reflink` option
 * @param {string} options.cpOp - the name of the `cp` operation in results
 * @param {string[]} options.cpFlags - `cp`'s options, before `-- <from> <to>`
 * @param {() => Promise<(options: { root: string, reflink: string }) => import('@cachevol/core').Backend>} options.dirBackend -
 *   the dir backend's factory
 * @returns {import('./subjects.mjs').Subject}
 */
export function copyCompareSubject({ id, label, unavailable, base, reflink, cpOp, cpFlags, dirBackend }) {
  return {
    id,
    label,
    kind: 'copy',
    ops: ['dir-fork', cpOp],
    warmup: true,
    unavailable,
    skip: (tree) =>
      tree.group === 'sweep' ? 'the copy comparison runs on the node_modules tree only' : null,
    async open(tree) {
      const createDirBackend = await dirBackend();
      const root = join(base(), `copy-${tree.id}`);
      await mkdir(root, { recursive: true });
      const backend = createDirBackend({ root, reflink });
      const started = now();
      const first = await backend.createFork('populate', FORK);
      await run('cp', ['-a', join(tree.dir, 'node_modules'), `${first.mountPath}/`]);
      const { usedBytes } = await backend.commitFork('populate', 'base');
      const populateMs = now() - started;
      const version = join(backend.root, 'versions', 'base');
      const cpOut = join(root, 'cp-out');
      await mkdir(cpOut);
      await syncAll();

      const timeFork = async (i) => {
        let progressReports = 0;
        const t = now();
        await backend.forkVersion(`f-${i}`, 'base', {
          ...FORK,
          onProgress: () => {
            progressReports++;
          },
        });
        const ms = now() - t;
        await backend.discardFork(`f-${i}`);
        await syncAll();
        return { ms, progressReports };
      };
      const timeCp = async (i) => {
        const out = join(cpOut, `copy-${i}`);
        const t = now();
        await run('cp', [...cpFlags, '--', version, out]);
        const ms = now() - t;
        await rm(out, { recursive: true, force: true });
        await syncAll();
        return { ms };
      };
      return {
        populateMs,
        info: { versionUsedBytes: usedBytes, cp: ['cp', ...cpFlags].join(' ') },
        async iterate(i) {
          // Alternate the order, so that neither always runs right after the other's clean-up.
          if (i % 2 === 0) {
            const fork = await timeFork(i);
            return { 'dir-fork': fork, [cpOp]: await timeCp(i) };
          }
          const cp = await timeCp(i);
          return { 'dir-fork': await timeFork(i), [cpOp]: cp };
        },
        close: () => rm(root, { recursive: true, force: true }),
      };
    },
  };
}
