import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';
import { packageConfig } from '../../tsup.base.js';

const library = packageConfig({ index: 'src/index.ts' });

/**
 * zod's `z.locales` (and `z.core.locales`): its 60-odd translations of the error messages, a
 * third of zod's code. esbuild cannot leave out what the `z` namespace re-exports, so every
 * command would compile them; cachevol never picks a locale (zod's schemas import English
 * themselves), so the bundle gets an empty namespace in their place.
 */
const noZodLocales: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'cachevol-no-zod-locales',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: 'zod-locales', namespace: 'cachevol-empty' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'cachevol-empty' }, () => ({
      contents: 'export {};',
      loader: 'js',
    }));
  },
};

/**
 * `@cachevol/core` as the `pipeline` command alone sees it: the package root, which adds
 * `parsePipeline`, the `cache:` schemas and the YAML parser to core's runtime. Every other
 * importer (the other commands, every backend and store) gets core's `runtime.ts`, which leaves
 * them out: esbuild puts a module into the chunk of every entry that can reach it through an
 * import, used or not, so with the root everywhere, `run` would load and compile the YAML parser
 * (a quarter of the core chunk) for nothing. A pipeline symbol imported anywhere else fails the
 * build (runtime.ts does not export it). test/lazy-loading.test.ts checks what `run` loads.
 */
const coreWithoutPipeline: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'cachevol-core-without-pipeline',
  setup(build) {
    const runtime = fileURLToPath(new URL('../core/src/runtime.ts', import.meta.url));
    build.onResolve({ filter: /^@cachevol\/core$/ }, (args) =>
      /[\\/]src[\\/]internal[\\/]actions[\\/]pipeline\.ts$/.test(args.importer)
        ? undefined
        : { path: runtime },
    );
  },
};

/** Native or optional-native packages: loaded from node_modules as they are, never inlined. */
// The AWS SDK too: it comes with @cachevol/objects-s3, loaded only with --objects.
const NATIVE = ['better-sqlite3', 'pg', '@aws-sdk/client-s3', '@aws-sdk/lib-storage'];

// The `cachevol` command: one bundle that inlines everything it runs, the @cachevol/* packages
// (from their sources, through the root tsconfig's paths) and their dependencies alike, so a
// command loads a few files instead of some 400 ES modules. Only better-sqlite3 and pg stay
// external. @cachevol/core is inlined together with every backend and store, so the command
// holds one copy of it and `isCacheVolumeError` recognises what a backend or a store throws
// (test/errors-across-packages.test.ts checks each one). What a command does, and each backend
// and store, is a chunk under dist/cli/ that is required only when it is needed: `--help` and
// `--version` load dist/cli/main.cjs and its parser and help alone (test/lazy-loading.test.ts).
// The chunks are CommonJS so that Node 20 can cache their compiled code between runs
// (src/internal/compile-cache.ts): tsup splits CommonJS output by splitting ES modules and
// converting each chunk.
const command = defineConfig({
  entry: { 'cli/main': 'src/main.ts' },
  format: ['cjs'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: true,
  outDir: 'dist',
  outExtension: () => ({ js: '.cjs' }),
  dts: false,
  noExternal: [new RegExp(`^(?!(${NATIVE.join('|')})(/|$))`)],
  external: NATIVE,
  esbuildPlugins: [noZodLocales, coreWithoutPipeline],
  esbuildOptions(options) {
    options.chunkNames = 'cli/[name]-[hash]';
  },
});

// The executable, dist/cli.cjs: src/bin.ts and the compile cache, which then require
// dist/cli/main.cjs.
const bin = defineConfig({
  entry: { cli: 'src/bin.ts' },
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  outDir: 'dist',
  dts: false,
  banner: { js: '#!/usr/bin/env node' },
});

export default [library, command, bin].flatMap((config) => (Array.isArray(config) ? config : [config]));
