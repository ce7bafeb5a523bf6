import { CacheVolumeError, type VolumeKey } from '@cachevol/core';
import { Client, type ClientConfig } from 'pg';

/** Where the store connects, as far as it can tell without connecting (never the password). */
export interface Target {
  /** A host name, an address, or a unix socket directory. */
  host: string;
  port: number;
  database: string;
  user: string;
}

/**
 * Reads the target out of a pool's configuration the way `pg` will (connection string,
 * `PG*` environment variables, defaults), without connecting.
 *
 * @param config - the pool's or client's configuration
 */
export function targetOf(config: ClientConfig): Target {
  const probe = new Client(config);
  const user = probe.user ?? '';
  return { host: probe.host, port: probe.port, database: probe.database ?? user, user };
}

/** `PostgreSQL at <where>, database "<db>", user "<user>"`, for messages. */
export function describeTarget(target: Target): string {
  const where = target.host.startsWith('/')
    ? `the unix socket ${target.host}/.s.PGSQL.${target.port}`
    : `${target.host}:${target.port}`;
  return `PostgreSQL at ${where} (database "${target.database}", user "${target.user}")`;
}

/** What the store was doing when something failed. */
export interface FailureContext {
  /** The target's description ({@link describeTarget}). */
  target: string;
  /** The store operation, e.g. `transact`. */
  operation: string;
  /** The volume, for transactions. */
  key?: VolumeKey;
  /** Whether the COMMIT had been sent (the outcome is then unknown when the connection drops). */
  committing?: boolean;
  /** The longest this client stayed idle inside the transaction, in ms. */
  idleMs?: number;
  /** The timeouts in force, for messages. */
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  statementTimeoutMs: number;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EACCES',
]);
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE']);

const codeOf = (error: unknown): string =>
  typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
const messageOf = (error: unknown): string => String((error as Error)?.message ?? error);

/** Tells whether a pg error is a serialization failure or a deadlock, worth retrying the whole transaction. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code === '40001' || code === '40P01';
}

/** Tells whether a failure means the connection is unusable (so it must not go back to the pool). */
export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  const message = messageOf(error);
  return (
    CONNECT_CODES.has(code) ||
    LOST_CODES.has(code) ||
    code === '25P03' ||
    code.startsWith('57P') ||
    /terminated|not queryable|connection error|timeout exceeded when trying to connect/i.test(message)
  );
}

/**
 * Turns anything a pg call threw into a `STORE_FAILED` {@link CacheVolumeError} that says what
 * happened and what to check, never the password. A `CacheVolumeError` passes through.
 *
 * @param error - what was thrown
 * @param context - what the store was doing
 */
export function storeError(error: unknown, context: FailureContext): CacheVolumeError {
  if (error instanceof CacheVolumeError) return error;
  const code = codeOf(error);
  const message = messageOf(error).replace(/\.$/, '');
  const { target } = context;
  const volume = context.key ? `volume ${context.key.scope}/${context.key.name}` : 'a volume';
  const fail = (text: string) =>
    new CacheVolumeError('STORE_FAILED', text, {
      cause: error,
      details: { operation: context.operation, sqlstate: code || undefined, ...(context.key ?? {}) },
    });

  if (CONNECT_CODES.has(code) || /timeout exceeded when trying to connect|connection timeout/i.test(message))
    return fail(
      `Cannot connect to ${target}: ${message}. Check that PostgreSQL is running and accepts connections ` +
        'there, and the host, port or socket directory in the connection string.',
    );
  if (code === '28P01' || code === '28000')
    return fail(
      `${target} refused the login: ${message}. Check the user and password (in the connection string, ` +
        "PGPASSWORD or ~/.pgpass) and the server's pg_hba.conf.",
    );
  if (code === '3D000')
    return fail(
      `${target}: ${message}. Create the database (createdb, or CREATE DATABASE) or fix the database name ` +
        'in the connection string.',
    );
  if (code === '42501')
    return fail(
      `${target}: ${message}. The user needs the CREATE privilege on the database for the first migration ` +
        '(or a schema made for it, with CREATE and USAGE on it).',
    );
  if (code === '55P03')
    return fail(
      `Another client held ${volume} for longer than lockTimeoutMs (${context.lockTimeoutMs} ms), so ` +
        `${context.operation} gave up and wrote nothing. The volume is very busy, or a host stalled inside ` +
        `a transaction (the server cuts such a session off after idleInTransactionTimeoutMs, ` +
        `${context.idleInTransactionTimeoutMs} ms): retry, or raise lockTimeoutMs.`,
    );
  // The server reports the timeout as it ends the session, but a client that was paused may see
  // the closed socket first: a lost connection after a longer idle time is the same event.
  const idle = context.idleMs ?? 0;
  if (code === '25P03' || (idle >= context.idleInTransactionTimeoutMs && isConnectionLost(error)))
    return fail(
      `This client stayed inside a transaction on ${volume} for longer than idleInTransactionTimeoutMs ` +
        `(${context.idleInTransactionTimeoutMs} ms${idle > 0 ? `; it was idle for ${Math.round(idle)} ms` : ''}): ` +
        'the process was paused or overloaded. The server ended its session and rolled the transaction back, ' +
        'so nothing was written and other clients went on. Retry.',
    );
  if (code === '57014')
    return fail(
      `A statement of ${context.operation} on ${target} ran longer than statementTimeoutMs ` +
        `(${context.statementTimeoutMs} ms) and was cancelled; nothing was written.`,
    );
  if (code === '53300')
    return fail(`${target}: ${message}. Lower max on the hosts sharing it, or raise max_connections.`);
  if (code.startsWith('57P'))
    return fail(`${target} is shutting down or restarting: ${message}. Retry once it is back.`);
  if (code === '22P05' || code === '22021')
    return fail(
      `${target} cannot store a value of ${volume}: ${message} (jsonb refuses \\u0000 in strings).`,
    );
  if (LOST_CODES.has(code) || /terminated|not queryable|connection error/i.test(message))
    return fail(
      `The connection to ${target} was lost during ${context.operation}: ${message}. ` +
        (context.committing
          ? 'The COMMIT had been sent, so the change may or may not have been saved.'
          : 'Nothing of this transaction was saved.'),
    );
  return fail(`${context.operation} failed on ${target}: ${message}${code ? ` (SQLSTATE ${code})` : ''}.`);
}
