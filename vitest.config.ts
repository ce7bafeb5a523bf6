import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@cachevol\/core\/testing$/, replacement: src('./packages/core/src/testing/index.ts') },
      { find: /^@cachevol\/core$/, replacement: src('./packages/core/src/index.ts') },
      { find: /^@cachevol\/backend-memory$/, replacement: src('./packages/backend-memory/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
