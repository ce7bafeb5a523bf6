import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CommandOptions, commandFailure, spawnTool } from './command.js';
import { errnoCode } from './fs.js';

/** Options for {@link streamCommand} and {@link pipeCommand}. */
export type StreamCommandOptions = Pick<CommandOptions, 'installHint' | 'failures' | 'env'>;

/** Starts `command` (see `spawnTool`), with a check that it exited 0. */
function start(
  command: string,
  args: readonly string[],
  stdin: 'pipe' | 'ignore',
  options: StreamCommandOptions,
) {
  const tool = spawnTool(command, args, { ...options, stdin });
  /** Resolves when it exited 0; throws its failure otherwise. */
  const succeeded = async (): Promise<void> => {
    const exitCode = await tool.exited;
    if (exitCode !== 0)
      throw commandFailure(command, args, { exitCode, stderr: tool.stderr() }, options.failures);
  };
  // Both are pipes (see spawnTool); standard input is one when asked for.
  return { ...tool, stdout: tool.child.stdout as Readable, input: tool.child.stdin as Writable, succeeded };
}

/**
 * Runs a program (argument array, no shell, `LC_ALL=C`) and yields its standard output as it
 * comes: a `btrfs send`, a `tar -c`. Once the output ends, the iteration throws the command's
 * failure if it did not exit 0 (classified like {@link runCommand}). Stopping early (`break`,
 * or an error in the consumer) kills the program.
 *
 * @param command - the program
 * @param args - its arguments
 * @param options - install hint, failure rules, environment
 * @throws `CacheVolumeError` `BACKEND_UNAVAILABLE` when the program cannot be started
 */
export async function* streamCommand(
  command: string,
  args: readonly string[],
  options: StreamCommandOptions = {},
): AsyncGenerator<Uint8Array> {
  const { child, stdout, succeeded } = start(command, args, 'ignore', options);
  let done = false;
  try {
    for await (const chunk of stdout) yield chunk as Uint8Array;
    await succeeded();
    done = true;
  } finally {
    if (!done) child.kill('SIGKILL');
  }
}

/**
 * Runs a program with `input` piped into its standard input (a `btrfs receive`, a `tar -x`),
 * and returns its standard output once it exited 0 and took all of `input`.
 *
 * - `input` fails (a stream cut short): the program is killed, and `input`'s error thrown.
 * - The program exits before taking all of `input`, or not 0: `input` is stopped (its
 *   `return()`), and the command's failure thrown.
 *
 * @param command - the program
 * @param args - its arguments
 * @param input - what goes to its standard input
 * @param options - install hint, failure rules, environment
 * @throws `CacheVolumeError` `BACKEND_UNAVAILABLE` when the program cannot be started
 */
export async function pipeCommand(
  command: string,
  args: readonly string[],
  input: AsyncIterable<Uint8Array>,
  options: StreamCommandOptions = {},
): Promise<string> {
  const started = start(command, args, 'pipe', options);
  const { child, exited, succeeded } = started;
  let stdout = '';
  started.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  try {
    await pipeline(Readable.from(input, { objectMode: false }), started.input);
  } catch (error) {
    // EPIPE: the program closed its input (it exited), and how it exited says more.
    const closed = errnoCode(error) === 'EPIPE' || errnoCode(error) === 'ERR_STREAM_PREMATURE_CLOSE';
    if (!closed) child.kill('SIGKILL');
    const unstarted = await exited.then(
      () => undefined,
      (startError: unknown) => startError,
    );
    if (unstarted) throw unstarted; // the program could not be started: say what to install
    if (closed) await succeeded();
    throw error; // the input's failure, or a program that exited 0 without taking all of it
  }
  await succeeded();
  return stdout;
}
