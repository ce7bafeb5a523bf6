import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base.js';

const library = packageConfig({ index: 'src/index.ts' });

// The `cachevol` executable: a small ESM file with a shebang that imports the library build
// (`./index.js` stays external), so the command's code is built once.
const bin = defineConfig({
  entry: { cli: 'src/bin.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: false,
  treeshake: true,
  outDir: 'dist',
  dts: false,
  banner: { js: '#!/usr/bin/env node' },
  external: ['./index.js'],
});

export default [...(Array.isArray(library) ? library : [library]), ...(Array.isArray(bin) ? bin : [bin])];
