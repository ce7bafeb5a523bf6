/**
 * Deterministic, node_modules-like file trees: nested package directories full of small text
 * files (package.json, README.md, .js with .d.ts and .js.map twins) and a few large ones
 * (native binaries, wasm, bundled scripts), with a log-normal size distribution. The same
 * name and targets give the same tree, byte for byte.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRng } from './prng.mjs';

/** Average bytes per file of a real node_modules tree (28,000 files, 500 MB). */
export const BYTES_PER_FILE = Math.round((500 * 2 ** 20) / 28_000);

/**
 * @typedef {object} FileEntry
 * @property {'file'} type
 * @property {string} path - relative, `/`-separated, starts with `node_modules/`
 * @property {number} size - bytes
 * @property {boolean} binary - incompressible content (native modules, wasm, images)
 * @property {number} mode - permission bits
 */

/**
 * @typedef {object} SymlinkEntry
 * @property {'symlink'} type
 * @property {string} path - relative path of the link
 * @property {string} target - what it points to (relative, inside the tree)
 */

/**
 * @typedef {object} TreePlan
 * @property {string} name - the tree's name (also its seed)
 * @property {FileEntry[]} files - every regular file
 * @property {SymlinkEntry[]} symlinks - `.bin` links
 * @property {string[]} dirs - every directory, parents before children
 * @property {number} bytes - total file bytes
 * @property {number} packages - package directories
 * @property {number} scale - factor applied to file sizes to reach the byte target (about 1)
 */

const WORDS = (
  'core util utils data stream parse parser async sync cache config plugin loader babel react ' +
  'vue lodash chalk debug semver glob path fs http url json yaml ansi color string array object ' +
  'types node test mock event emitter promise queue buffer crypto hash stable map set proxy lint ' +
  'format print compile transform runtime helper helpers shared common client server router ' +
  'store state hooks dom css style postcss webpack rollup vite esbuild jest mocha chai sinon ' +
  'tslib regenerator define property has symbols iterator to is get set call bind apply'
).split(' ');
const SCOPES = ['babel', 'types', 'jest', 'typescript-eslint', 'vitest', 'esbuild', 'aws-sdk', 'smithy'];
const LAYOUTS = ['lib', 'dist', 'dist/esm', 'dist/cjs', 'build', 'src', 'types', 'es', 'esm', 'cjs', 'umd'];

/**
 * Plans a tree: paths, sizes and kinds, without writing anything.
 *
 * @param {object} target
 * @param {string} target.name - the tree's name, which seeds everything
 * @param {number} target.bytes - total bytes to aim for
 * @param {number} target.files - number of files to aim for
 * @returns {TreePlan}
 */
export function planTree({ name, bytes, files: fileTarget }) {
  const rng = createRng(`tree:${name}`);
  const maxFile = Math.max(4096, Math.floor(bytes / 10));
  /** @type {FileEntry[]} */
  const files = [];
  /** @type {SymlinkEntry[]} */
  const symlinks = [];
  const names = new Set();
  const commands = new Set();
  /** @type {string[]} */
  const topLevel = [];
  /** Sizes that are not scaled (package.json, LICENSE): they have their real sizes. */
  let fixedBytes = 0;
  let packages = 0;

  const add = (path, size, binary = false, mode = 0o644, fixed = false) => {
    const clamped = Math.max(1, Math.min(maxFile, size));
    files.push({ type: 'file', path, size: clamped, binary, mode, fixed });
    if (fixed) fixedBytes += clamped;
  };
  const packageName = () => {
    const base = rng.chance(0.4) ? `${rng.pick(WORDS)}-${rng.pick(WORDS)}` : rng.pick(WORDS);
    const full = rng.chance(0.15) ? `@${rng.pick(SCOPES)}/${base}` : base;
    let unique = full;
    for (let n = 2; names.has(unique); n++) unique = `${full}-${n}`;
    names.add(unique);
    return unique;
  };

  while (files.length < fileTarget) {
    packages++;
    const pkg = packageName();
    const nested = topLevel.length > 5 && rng.chance(0.22);
    const root = nested ? `${rng.pick(topLevel)}/node_modules/${pkg}` : `node_modules/${pkg}`;
    if (!nested) topLevel.push(root);

    add(`${root}/package.json`, rng.logNormal(1200, 0.5, 250, 12_000), false, 0o644, true);
    if (rng.chance(0.85)) add(`${root}/README.md`, rng.logNormal(4500, 1.0, 150, 150_000));
    if (rng.chance(0.8)) add(`${root}/LICENSE`, rng.int(1050, 1200), false, 0o644, true);
    if (rng.chance(0.25)) add(`${root}/CHANGELOG.md`, rng.logNormal(9000, 1.2, 300, 500_000));

    const modules = rng.logNormal(5, 1.3, 1, 2500);
    const dirs = [];
    for (let i = rng.int(1, 3); i > 0; i--) dirs.push(rng.pick(LAYOUTS));
    for (let i = Math.floor(modules / 20); i > 0; i--) dirs.push(`${rng.pick(dirs)}/${rng.pick(WORDS)}`);
    const used = new Set();
    for (let m = 0; m < modules; m++) {
      const dir = rng.pick(dirs);
      let base = rng.chance(0.5) ? rng.pick(WORDS) : `${rng.pick(WORDS)}-${rng.pick(WORDS)}`;
      for (let n = 2; used.has(`${dir}/${base}`); n++) base = `${base}${n}`;
      used.add(`${dir}/${base}`);
      const stem = `${root}/${dir}/${base}`;
      if (rng.chance(0.05)) {
        add(`${stem}.json`, rng.logNormal(700, 1.6, 20, 3_000_000));
        continue;
      }
      const js = rng.logNormal(3200, 1.3, 40, 3_000_000);
      add(`${stem}.js`, js);
      if (rng.chance(0.45)) add(`${stem}.d.ts`, rng.logNormal(1400, 1.1, 20, 1_000_000));
      if (rng.chance(0.35)) add(`${stem}.js.map`, Math.round(js * (1.2 + 2 * rng.next())));
      if (rng.chance(0.1)) add(`${stem}.mjs`, Math.round(js * (0.9 + rng.next() / 5)));
    }
    if (rng.chance(0.012))
      add(
        `${root}/build/Release/${pkg.replace(/\W/g, '_')}.node`,
        rng.logNormal(5e6, 0.7, 5e5, 6e7),
        true,
        0o755,
      );
    if (rng.chance(0.002))
      add(`${root}/dist/${rng.pick(WORDS)}.wasm`, rng.logNormal(1.5e6, 0.8, 1e5, 2e7), true);
    if (rng.chance(0.03))
      add(`${root}/dist/${rng.pick(WORDS)}.bundle.js`, rng.logNormal(2e6, 0.8, 3e5, 1.2e7));
    if (rng.chance(0.03)) {
      for (let i = rng.int(1, 5); i > 0; i--)
        add(`${root}/assets/${rng.pick(WORDS)}${i}.png`, rng.logNormal(8000, 1.2, 100, 2e6), true);
    }
    const command = pkg.replace(/^@[^/]+\//, '');
    if (!nested && !commands.has(command) && rng.chance(0.06)) {
      commands.add(command);
      add(`${root}/bin/${command}.js`, rng.logNormal(1500, 0.8, 100, 50_000), false, 0o755);
      symlinks.push({
        type: 'symlink',
        path: `node_modules/.bin/${command}`,
        target: `../${root.slice(13)}/bin/${command}.js`,
      });
    }
  }

  // Reach the byte target by scaling the files that have no fixed size.
  const scalable = files.reduce((sum, f) => sum + f.size, 0) - fixedBytes;
  const scale = Math.max(0.01, (bytes - fixedBytes) / Math.max(1, scalable));
  let total = 0;
  for (const file of files) {
    if (!file.fixed) file.size = Math.max(1, Math.round(file.size * scale));
    total += file.size;
    delete file.fixed;
  }
  const dirSet = new Set();
  for (const entry of [...files, ...symlinks]) {
    for (let dir = dirname(entry.path); dir !== '.' && !dirSet.has(dir); dir = dirname(dir)) dirSet.add(dir);
  }
  const dirs = [...dirSet].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
  return { name, files, symlinks, dirs, bytes: total, packages, scale };
}

/**
 * Makes file contents: text files are slices of a pseudo-JavaScript corpus (compresses about
 * like real sources), binary files are a keyed AES-CTR stream (incompressible). Deterministic.
 *
 * @param {string} seed - the tree's name
 * @returns {{ text: (size: number, index: number) => Buffer, binary: (size: number, index: number) => Buffer }}
 */
export function contentMaker(seed) {
  const rng = createRng(`corpus:${seed}`);
  const tokens = [
    ...'function return const let var if else for while new this typeof export import from default class extends async await null undefined true false'.split(
      ' ',
    ),
    ...'( ) { } [ ] ; , . = => === !== && || + - * ? :'.split(' '),
  ];
  const identifiers = [];
  for (let i = 0; i < 3000; i++) {
    let id = rng.pick(WORDS);
    if (rng.chance(0.6)) id += rng.pick(WORDS).replace(/^./, (c) => c.toUpperCase());
    if (rng.chance(0.3)) id += rng.int(0, 99);
    identifiers.push(id);
  }
  const parts = [];
  let length = 0;
  while (length < 8 * 2 ** 20) {
    const r = rng.next();
    const piece =
      r < 0.45
        ? rng.pick(identifiers)
        : r < 0.8
          ? rng.pick(tokens)
          : r < 0.9
            ? `'${rng.pick(identifiers)}'`
            : r < 0.95
              ? `\n${'  '.repeat(rng.int(0, 4))}`
              : String(rng.int(0, 4096));
    parts.push(piece, ' ');
    length += piece.length + 1;
  }
  const corpus = Buffer.from(parts.join(''));
  const key = createHash('sha256').update(`binary:${seed}`).digest().subarray(0, 16);

  return {
    text(size, index) {
      const fileRng = createRng(`file:${seed}:${index}`);
      const pieces = [];
      for (let done = 0; done < size; ) {
        const n = Math.min(size - done, fileRng.int(64, 4096));
        const offset = fileRng.int(0, corpus.length - n);
        pieces.push(corpus.subarray(offset, offset + n));
        done += n;
      }
      return Buffer.concat(pieces, size);
    },
    binary(size, index) {
      const iv = Buffer.alloc(16);
      iv.writeUInt32BE(index, 12);
      return createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(size));
    },
  };
}

/**
 * Calls `fn` with each file of a plan and its content, in plan order.
 *
 * @param {TreePlan} plan - the plan
 * @param {(file: FileEntry, data: Buffer) => Promise<void> | void} fn - what to do with it
 * @param {number} [parallel] - files in flight at once
 */
export async function forEachFile(plan, fn, parallel = 16) {
  const content = contentMaker(plan.name);
  let next = 0;
  const worker = async () => {
    while (next < plan.files.length) {
      const index = next++;
      const file = plan.files[index];
      await fn(file, file.binary ? content.binary(file.size, index) : content.text(file.size, index));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * Writes a planned tree under `dir` (which must exist): directories, files with their modes,
 * and `.bin` symlinks.
 *
 * @param {TreePlan} plan - the plan
 * @param {string} dir - the destination directory
 */
export async function writeTree(plan, dir) {
  for (const sub of plan.dirs) mkdirSync(join(dir, sub));
  await forEachFile(plan, async (file, data) => {
    const handle = await open(join(dir, file.path), 'wx', file.mode);
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  });
  for (const link of plan.symlinks) await symlink(link.target, join(dir, link.path));
}

/**
 * Summarises a plan: counts, total bytes and the file size distribution.
 *
 * @param {TreePlan} plan - the plan
 */
export function describePlan(plan) {
  const sizes = plan.files.map((f) => f.size).sort((a, b) => a - b);
  const at = (q) => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))] ?? 0;
  const over = (limit) => sizes.filter((s) => s >= limit).length;
  const bytesOver = (limit) => sizes.filter((s) => s >= limit).reduce((a, b) => a + b, 0);
  return {
    files: plan.files.length,
    symlinks: plan.symlinks.length,
    dirs: plan.dirs.length,
    packages: plan.packages,
    bytes: plan.bytes,
    sizeScale: Number(plan.scale.toFixed(3)),
    fileSize: {
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: sizes.at(-1) ?? 0,
      mean: Math.round(plan.bytes / Math.max(1, sizes.length)),
    },
    filesUnder4KiB: sizes.length - over(4096),
    filesOver1MiB: over(2 ** 20),
    bytesInFilesOver1MiB: bytesOver(2 ** 20),
    binaryBytes: plan.files.filter((f) => f.binary).reduce((a, f) => a + f.size, 0),
  };
}
