import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:macos`: the conformance suite and the engine model against real hdiutil.
// scripts/require-macos.mjs refuses to start it anywhere else.
const packages = fileURLToPath(new URL('../', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./', import.meta.url)),
  resolve: {
    alias: [
      { find: /^@cachevol\/core\/testing$/, replacement: `${packages}core/src/testing/index.ts` },
      { find: /^@cachevol\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` },
    ],
  },
  test: {
    include: ['test/macos/**/*.macos.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
