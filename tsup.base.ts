import { defineConfig, type Options } from 'tsup';

/**
 * The one tsup configuration every package builds with: ESM + CJS + `.d.ts`, Node 20 target.
 * The CommonJS build inlines third-party dependencies (several are ESM-only, such as p-queue
 * and execa), so `require()` works on every Node 20 release; `@cachevol/*` stay external.
 *
 * @param entry - the package's public entry points, by output name
 */
export function packageConfig(entry: Record<string, string>) {
  const shared: Options = {
    entry,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
    treeshake: true,
    outDir: 'dist',
    external: ['vitest', 'fast-check'],
  };
  return defineConfig([
    { ...shared, format: ['esm'], dts: true },
    { ...shared, format: ['cjs'], dts: true, noExternal: [/^(?!@cachevol\/|vitest|fast-check)/] },
  ]);
}
