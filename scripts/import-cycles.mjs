/**
 * Finds import cycles between the source files of the workspace packages (`import type`
 * included: a cycle of types still ties two files together). Prints each cycle and exits 1 when
 * there is one; `node scripts/import-cycles.mjs [DIR...]` (default: every packages/<name>/src and integrations/<name>/src).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every .ts file under `dir`. */
function sources(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The files `file` imports by relative path (`./x.js` is `./x.ts`, a directory its index). */
function importsOf(file) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map(({ fileName }) => fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => {
      const base = resolve(dirname(file), name.replace(/\.js$/, ''));
      return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
    })
    .filter((target) => target !== undefined);
}

/**
 * The import cycles of a graph, each as the files from one back to itself, found by one
 * depth-first walk: O(files + imports).
 *
 * @param {Map<string, string[]>} graph - each file and the files it imports
 * @returns {string[][]}
 */
export function importCycles(graph) {
  const state = new Map(); // undefined: not seen; 1: on the current path; 2: done
  const path = [];
  const cycles = [];
  const visit = (file) => {
    state.set(file, 1);
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 1) cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, 2);
  };
  for (const file of [...graph.keys()].sort()) if (state.get(file) === undefined) visit(file);
  return cycles;
}

function main() {
  const dirs =
    process.argv.length > 2
      ? process.argv.slice(2).map((dir) => resolve(dir))
      : ['packages', 'integrations']
          .filter((top) => existsSync(join(ROOT, top)))
          .flatMap((top) => readdirSync(join(ROOT, top)).map((name) => join(ROOT, top, name, 'src')))
          .filter((dir) => existsSync(dir));
  const graph = new Map();
  for (const file of dirs.flatMap(sources)) graph.set(file, importsOf(file));
  const cycles = importCycles(graph);
  for (const cycle of cycles)
    console.error(`import cycle: ${cycle.map((file) => relative(ROOT, file)).join(' -> ')}`);
  console.log(`${graph.size} files, ${cycles.length} import cycles`);
  if (cycles.length > 0) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
