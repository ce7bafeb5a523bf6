import { main } from './index.js';

// The `cachevol` executable (tsup adds the `#!/usr/bin/env node` line and keeps `./index.js`
// external, so the command and the library share one build).
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cachevol: INTERNAL: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
