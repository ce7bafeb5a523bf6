import { main } from './main.js';

// The `cachevol` executable: tsup bundles it into dist/cli.js with the `#!/usr/bin/env node`
// line (see tsup.config.ts). It imports main.js, the one module `--help` and `--version` need.
//
// A reader that goes away (`cachevol ls | head -1`) closes the pipe: what is left to print is
// dropped quietly instead of crashing with an EPIPE stack trace. The work itself (a job that
// is running, a commit) goes on and ends as it would.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cachevol: INTERNAL: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
