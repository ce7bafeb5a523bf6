import { spawn } from 'node:child_process';

/** How a `cachevol` process ended. */
export interface CachevolResult {
  /** Its exit code; `null` when it could not be started or was killed. */
  code: number | null;
  /** What it printed on stdout. */
  stdout: string;
  /** What it printed on stderr (also copied to the step's log as it comes). */
  stderr: string;
  /** Why it could not be started (`ENOENT` when the command is not installed). */
  error?: Error;
}

/**
 * Runs `cachevol` with an argument array (never a shell), its stderr copied to the step's log.
 *
 * @param command - the executable
 * @param args - its arguments
 * @param env - its environment (the step's: `CACHEVOL_ROOT` and the other settings reach it)
 */
export function runCachevol(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CachevolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', (error) => resolve({ code: null, stdout, stderr, error }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The exit code `cachevol` uses for bad input (a usage error, a malformed size or name). */
export const USAGE_EXIT_CODE = 2;

/**
 * Why a `cachevol --json` command failed: the `CODE: message` of the error it printed on
 * stderr as `{ "error": { code, message } }`, or its exit code when there is none.
 *
 * @param result - the failed command
 */
export function failureOf(result: CachevolResult): string {
  if (result.error) return result.error.message;
  for (const line of result.stderr.trim().split('\n').reverse()) {
    try {
      const { error } = JSON.parse(line) as { error?: { code?: string; message?: string } };
      if (error?.message) return `${error.code ?? 'ERROR'}: ${error.message}`;
    } catch {
      // a line of progress or a warning, not the error
    }
  }
  return `exit code ${result.code}`;
}
