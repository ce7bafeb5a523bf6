import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { type FailureContext, isConnectionLost, isRetryable, storeError } from './errors.js';

/** The timeouts every transaction sets for itself (`SET LOCAL`), whoever made the pool. */
export interface Timeouts {
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  statementTimeoutMs: number;
}

/** What {@link runTransaction} needs. */
export interface TransactionContext {
  pool: Pool;
  timeouts: Timeouts;
  /** The target's description, for messages. */
  target: string;
}

/** A statement with its parameters. */
export type Statement = QueryConfig<unknown[]>;

/** The running transaction, as the body of {@link runTransaction} sees it. */
export interface Transaction {
  /**
   * Runs statements in order and returns their results. The client sends them together when it
   * pipelines (one round trip), one after the other otherwise.
   */
  run(statements: readonly Statement[]): Promise<QueryResult[]>;
}

/** What a transaction body returns: the caller's value, and the write to commit (or none: roll back). */
export interface TransactionOutcome<T> {
  value: T;
  write: Statement | null;
}

/** Wraps an error thrown by a transaction function, so it reaches the caller unchanged. */
export class FunctionError {
  /** @param error - what the function threw */
  constructor(readonly error: unknown) {}
}

/** Most attempts of one transaction when PostgreSQL reports a serialization failure or deadlock. */
const MAX_ATTEMPTS = 4;

/**
 * The statement that opens every transaction: READ COMMITTED (each statement sees what committed
 * before it began, so the loads after a row lock see the lock holder's writes), the timeouts,
 * and the commit mode. `synchronous_commit = off` returns from COMMIT before the WAL reaches
 * disk: a server crash may lose the last fraction of a second of such commits, never corrupt
 * anything. `on` waits for the flush (and for synchronous standbys, where configured).
 */
export function beginStatement(timeouts: Timeouts, durable: boolean): string {
  return [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    `SET LOCAL lock_timeout = ${timeouts.lockTimeoutMs}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${timeouts.idleInTransactionTimeoutMs}`,
    `SET LOCAL statement_timeout = ${timeouts.statementTimeoutMs}`,
    `SET LOCAL synchronous_commit = ${durable ? 'on' : 'off'}`,
  ].join('; ');
}

async function send(client: PoolClient, statements: readonly (Statement | string)[]): Promise<QueryResult[]> {
  if (client.pipeline) {
    const settled = await Promise.allSettled(statements.map((s) => client.query(s)));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<QueryResult>).value);
  }
  const results: QueryResult[] = [];
  for (const statement of statements) results.push(await client.query(statement));
  return results;
}

/**
 * Runs one transaction on a pooled connection: BEGIN (sent with the body's first statements),
 * the body, then the write and COMMIT together, or ROLLBACK when there is nothing to write.
 * The whole transaction is retried on a serialization failure or deadlock (its function is
 * pure). A {@link FunctionError} rolls back and rethrows the function's own error; every other
 * failure becomes `STORE_FAILED`. A connection that failed, or whose session the server ended
 * (idle in transaction too long), is destroyed rather than returned to the pool.
 *
 * @param context - pool, timeouts, target
 * @param failure - what to say in errors
 * @param durable - commit synchronously
 * @param body - loads, calls the function, and says what to write
 */
export async function runTransaction<T>(
  context: TransactionContext,
  failure: Omit<FailureContext, 'target' | keyof Timeouts>,
  durable: boolean,
  body: (tx: Transaction) => Promise<TransactionOutcome<T>>,
): Promise<T> {
  const fail: FailureContext = { ...failure, ...context.timeouts, target: context.target };
  for (let attempt = 1; ; attempt++) {
    let client: PoolClient;
    try {
      client = await context.pool.connect();
    } catch (error) {
      throw storeError(error, fail);
    }
    // A checked-out client has no error listener: the server ending the session while this
    // process is busy (or paused) would otherwise crash it.
    let asyncError: unknown;
    const onError = (error: unknown) => {
      asyncError ??= error;
    };
    client.on('error', onError);
    let broken = false;
    let committing = false;
    // How long the session sat idle inside the transaction (the function running, or the
    // process paused), which is what the server's idle_in_transaction_session_timeout measures.
    let lastReply: number | null = null;
    let idleMs = 0;
    try {
      let begin: string | null = beginStatement(context.timeouts, durable);
      const tx: Transaction = {
        async run(statements) {
          if (lastReply !== null) idleMs = Math.max(idleMs, performance.now() - lastReply);
          const first = begin;
          begin = null;
          const results =
            first === null
              ? await send(client, statements)
              : (await send(client, [first, ...statements])).slice(1);
          lastReply = performance.now();
          return results;
        },
      };
      const outcome = await body(tx);
      if (outcome.write) {
        committing = true;
        await tx.run([outcome.write, { text: 'COMMIT' }]);
      } else {
        await tx.run([{ text: 'ROLLBACK' }]);
      }
      return outcome.value;
    } catch (thrown) {
      const fromFunction = thrown instanceof FunctionError;
      const error = fromFunction ? thrown.error : thrown;
      broken = asyncError !== undefined || (!fromFunction && isConnectionLost(error));
      if (!broken)
        broken = !(await client.query('ROLLBACK').then(
          () => true,
          () => false,
        ));
      if (fromFunction) throw error;
      if (!broken && isRetryable(error) && attempt < MAX_ATTEMPTS) continue;
      // The server's own report (it has a severity) says more than the socket error that followed it.
      const cause = typeof (asyncError as { severity?: unknown })?.severity === 'string' ? asyncError : error;
      throw storeError(cause, { ...fail, committing, idleMs });
    } finally {
      client.off('error', onError);
      client.release(broken ? true : undefined);
    }
  }
}
