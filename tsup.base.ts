import { defineConfig, type Options } from 'tsup';

/** Dependencies that can be `require()`d as they are, so the CommonJS build leaves them out. */
const KEEP_EXTERNAL = ['@cachevol/', 'vitest', 'fast-check', 'zod', 'yaml', 'better-sqlite3', 'pg'];

/**
 * The one tsup configuration every package builds with: ESM + CJS + `.d.ts`, Node 20 target.
 * The CommonJS build inlines the ESM-only dependencies (p-queue, execa, plist and theirs), so
 * `require()` works on every Node 20 release; `@cachevol/*` and the dependencies that ship
 * CommonJS themselves stay external.
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
    { ...shared, format: ['cjs'], dts: true, noExternal: [new RegExp(`^(?!${KEEP_EXTERNAL.join('|')})`)] },
  ]);
}
