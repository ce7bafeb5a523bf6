import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources of every workspace package, not their built dist.
    alias: [
      { find: /^@cachevol\/core\/testing$/, replacement: `${packages}core/src/testing/index.ts` },
      { find: /^@cachevol\/core\/backend-kit$/, replacement: `${packages}core/src/backend-kit/index.ts` },
      { find: /^@cachevol\/core\/git-mirror$/, replacement: `${packages}core/src/git-mirror/index.ts` },
      { find: /^@cachevol\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'integrations/*/test/**/*.test.ts',
      'test-support/**/*.test.ts',
    ],
    // One line per suite that a gate (test-support/gate.ts) skipped, with the reason, before the
    // default reporter's summary.
    reporters: ['./test-support/skip-reasons.ts', 'default'],
    // Deadlines for a test that hangs, far above what the slowest take on a loaded machine (the
    // CLI end-to-end tests start five to ten processes each; one took 49 s on 2 cores at load
    // 25), so that load slows the run down and never fails it.
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
