import { main } from './main.js';

// The `cachevol` executable: tsup bundles it into dist/cli.js with the `#!/usr/bin/env node`
// line (see tsup.config.ts). It imports main.js, not the package's index.ts: the index also
// exports linkPath and friends, whose @cachevol/core import would be loaded with it.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cachevol: INTERNAL: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
