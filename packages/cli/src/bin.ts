import { createRequire } from 'node:module';
import { join } from 'node:path';
import { enableCompileCache } from './internal/compile-cache.js';
import type * as Main from './main.js';

// The `cachevol` executable, dist/cli.cjs (see tsup.config.ts): a few lines that turn on the
// compile cache and load the command itself, dist/cli/main.cjs and the chunks beside it. All of
// it is CommonJS: Node 20 can cache the compiled code of CommonJS only (see compile-cache.ts),
// and an ES module entry would cost every run the start of Node's ES module loader.
//
// A reader that goes away (`cachevol ls | head -1`) closes the pipe: what is left to print is
// dropped quietly instead of crashing with an EPIPE stack trace. The work itself (a job that
// is running, a commit) goes on and ends as it would.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

// zod's schemas parse without generating code (`z.config({ jitless: true })`, set where the
// bundle's zod reads it): a command parses each of its schemas once, and compiling a parser
// through `new Function` costs more than it saves. Only this process: the library entry leaves
// zod as it is. test/lazy-loading.test.ts checks that the bundle still reads this setting.
(globalThis as { __zod_globalConfig?: object }).__zod_globalConfig = { jitless: true };

const argv = process.argv.slice(2);
const chunks = join(__dirname, 'cli');
// The cache keeps one set per command: the first word of the command line that looks like one.
const command = argv.find((arg) => /^[a-z][a-z-]{0,31}$/.test(arg)) ?? '';
enableCompileCache(chunks, command, process.env);
const { main } = createRequire(__filename)('./cli/main.cjs') as typeof Main;

main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cachevol: INTERNAL: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
