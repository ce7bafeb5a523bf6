import { defineConfig, type Options } from 'tsup';

/**
 * The one tsup configuration every package builds with: ESM + CJS + `.d.ts`, Node 20 target.
 * `entry` names the package's public entry points; `bundle` lists ESM-only dependencies that
 * must be inlined into the CommonJS build so `require()` works on every Node 20 release.
 */
export function packageConfig(entry: Record<string, string>, bundle: string[] = []) {
  const shared: Options = {
    entry,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
    treeshake: true,
    outDir: 'dist',
  };
  return defineConfig([
    { ...shared, format: ['esm'], dts: true },
    { ...shared, format: ['cjs'], dts: true, noExternal: bundle },
  ]);
}
