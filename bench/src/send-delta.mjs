/**
 * Bytes sent against bytes changed: what moving a version to another host costs when the host
 * already holds its parent. On one backend, a cell commits the tree as `v1`, then for each
 * fraction (1%, 5%, 25% of the tree's bytes) forks `v1`, rewrites that share of its files
 * (whole files, same sizes, new contents: what a package upgrade does) and commits `v2-<n>%`.
 * Each iteration sends every `v2` through the backend's `sendVersion`, once relative to `v1`
 * (`{ baseId: 'v1', format }`) and once whole (`{ format }`), draining the stream and counting
 * its bytes (timed: from the call until the last byte; nothing receives it). Order alternates
 * between iterations, as in copy-compare.mjs.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from './prng.mjs';
import { contentMaker } from './tree.mjs';
import { now, run, syncAll } from './util.mjs';

const FORK = { capacityBytes: 20 * 2 ** 30 };

/** The shares of the tree's bytes that `v2` changes. */
export const SEND_FRACTIONS = [0.01, 0.05, 0.25];

/** `1%`, `5%`, `25%`. */
export const fractionLabel = (fraction) => `${Math.round(fraction * 100)}%`;

/** The timed operations of a send subject, in the order results list them. */
export const sendOps = () =>
  SEND_FRACTIONS.flatMap((f) => [`incremental-${fractionLabel(f)}`, `whole-${fractionLabel(f)}`]);

/**
 * The files of `plan` to rewrite so that about `fraction` of its bytes change: a seeded shuffle
 * of all files, taken in order while they fit in the target (+5%), until at least 95% of it is
 * reached. The same tree gives the same files; a larger fraction's files include a smaller one's
 * when the target allows.
 *
 * @param {import('./tree.mjs').TreePlan} plan - the tree
 * @param {number} fraction - in (0, 1]
 * @returns {{ index: number, file: import('./tree.mjs').FileEntry }[]}
 */
export function filesToChange(plan, fraction) {
  const rng = createRng(`send-delta:${plan.name}`);
  const order = plan.files.map((_, index) => index);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const target = fraction * plan.bytes;
  const chosen = [];
  let bytes = 0;
  for (const index of order) {
    if (bytes >= target * 0.95) break;
    const file = plan.files[index];
    if (bytes + file.size > target * 1.05) continue;
    chosen.push({ index, file });
    bytes += file.size;
  }
  return chosen;
}

/**
 * Rewrites `files` under `root` with new contents of the same sizes (text stays text, binary
 * stays binary).
 *
 * @param {string} root - the directory holding `node_modules/`
 * @param {string} seed - seeds the new contents
 * @param {{ index: number, file: import('./tree.mjs').FileEntry }[]} files - from {@link filesToChange}
 * @returns {Promise<{ files: number, bytes: number }>} what was written
 */
export async function rewriteFiles(root, seed, files) {
  const content = contentMaker(seed);
  let bytes = 0;
  for (const { index, file } of files) {
    const data = file.binary ? content.binary(file.size, index) : content.text(file.size, index);
    await writeFile(join(root, file.path), data);
    bytes += data.length;
  }
  return { files: files.length, bytes };
}

/**
 * Drains a version's stream, counting its bytes.
 *
 * @param {import('@cachevol/core').Backend} backend - the sending backend
 * @param {string} versionId - what to send
 * @param {import('@cachevol/core').SendOptions} options - base and format
 */
async function timeSend(backend, versionId, options) {
  const t = now();
  const sent = await backend.sendVersion(versionId, options);
  let bytes = 0;
  for await (const chunk of sent.stream) bytes += chunk.length;
  return { ms: now() - t, bytes, baseId: sent.baseId, format: sent.format };
}

/**
 * A subject that sends versions of a tree changed by 1%, 5% and 25%, incrementally and whole,
 * through one backend's `sendVersion`.
 *
 * @param {object} options
 * @param {string} options.id - subject id
 * @param {string} options.label - for tables
 * @param {string | null} options.unavailable - why it cannot run, or `null`
 * @param {import('@cachevol/core').TransferFormat} options.format - the format asked for
 * @param {(tree: import('./subjects.mjs').TreeInfo) => Promise<{ backend: import('@cachevol/core').Backend, root: string }>} options.make -
 *   a fresh backend for a tree, and the directory to remove at the end
 * @returns {import('./subjects.mjs').Subject}
 */
export function sendDeltaSubject({ id, label, unavailable, format, make }) {
  return {
    id,
    label,
    kind: 'transfer',
    ops: sendOps(),
    warmup: true,
    unavailable,
    skip: (tree) =>
      tree.group === 'sweep' ? 'the send comparison runs on the node_modules tree only' : null,
    async open(tree) {
      const { backend, root } = await make(tree);
      const close = async () => {
        for (const entry of await backend.list().catch(() => [])) {
          if (entry.kind === 'fork') await backend.discardFork(entry.id).catch(() => undefined);
          else await backend.removeVersion(entry.id).catch(() => undefined);
        }
        await rm(root, { recursive: true, force: true });
      };
      try {
        const started = now();
        const first = await backend.createFork('f-v1', FORK);
        await run('cp', ['-a', join(tree.dir, 'node_modules'), `${first.mountPath}/`]);
        await backend.commitFork('f-v1', 'v1');
        const fractions = [];
        for (const fraction of SEND_FRACTIONS) {
          const name = fractionLabel(fraction).replace('%', 'pct');
          const fork = await backend.forkVersion(`f-${name}`, 'v1', FORK);
          const changed = await rewriteFiles(
            fork.mountPath,
            `${tree.id}:changed`,
            filesToChange(tree.plan, fraction),
          );
          await backend.commitFork(`f-${name}`, `v2-${name}`);
          fractions.push({
            fraction,
            versionId: `v2-${name}`,
            changedFiles: changed.files,
            changedBytes: changed.bytes,
          });
        }
        const populateMs = now() - started;
        await syncAll();
        return {
          populateMs,
          info: {
            format,
            treeBytes: tree.plan.bytes,
            treeFiles: tree.plan.files.length,
            fractions: fractions.map(({ versionId, ...rest }) => rest),
          },
          async iterate(i) {
            const round = {};
            for (const { fraction, versionId } of fractions) {
              const label = fractionLabel(fraction);
              const incremental = () => timeSend(backend, versionId, { baseId: 'v1', format });
              const whole = () => timeSend(backend, versionId, { format });
              if (i % 2 === 0) {
                round[`incremental-${label}`] = await incremental();
                round[`whole-${label}`] = await whole();
              } else {
                round[`whole-${label}`] = await whole();
                round[`incremental-${label}`] = await incremental();
              }
            }
            return round;
          },
          close,
        };
      } catch (error) {
        await close();
        throw error;
      }
    },
  };
}
