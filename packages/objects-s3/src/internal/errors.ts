import { CacheVolumeError } from '@cachevol/core';

/** What the store was doing when a call failed, for the message. */
export interface FailureContext {
  /** `put`, `get` or `delete`. */
  operation: 'put' | 'get' | 'delete';
  /** The object's key (with the prefix). */
  key: string;
  /** `s3://bucket/prefix`. */
  store: string;
  /** The endpoint, or `AWS S3 (<region>)`. */
  endpoint: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const CREDENTIAL_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'Forbidden',
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Turns anything an S3 call threw into a {@link CacheVolumeError}: `NOT_FOUND` for a key that is
 * not there, `STORE_FAILED` otherwise, with a message that says what to check (the endpoint,
 * the bucket, the credentials). Never includes a secret. A `CacheVolumeError` passes through.
 *
 * @param error - what was thrown
 * @param context - what the store was doing
 */
export function s3Error(error: unknown, context: FailureContext): CacheVolumeError {
  if (error instanceof CacheVolumeError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? (error as { cause?: SdkError } | undefined)?.cause?.code ?? '';
  const what = `${context.operation} of "${context.key}" in ${context.store}`;
  const message = (e.message ?? String(error)).replace(/\.$/, '');
  const fail = (errorCode: 'STORE_FAILED' | 'NOT_FOUND', text: string) =>
    new CacheVolumeError(errorCode, text, {
      cause: error,
      details: {
        operation: context.operation,
        key: context.key,
        store: context.store,
        ...(name ? { name } : {}),
        ...(status ? { status } : {}),
      },
    });
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket'))
    return fail('NOT_FOUND', `No object "${context.key}" in ${context.store}.`);
  if (name === 'NoSuchBucket')
    return fail(
      'STORE_FAILED',
      `The ${what} failed: the bucket does not exist at ${context.endpoint}. Create it, or check the bucket name and the endpoint.`,
    );
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message))
    return fail(
      'STORE_FAILED',
      `The ${what} failed: no AWS credentials were found (${message}). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass \`credentials\`.`,
    );
  if (CREDENTIAL_NAMES.has(name) || status === 403 || status === 401)
    return fail(
      'STORE_FAILED',
      `The ${what} was refused (${name || status}: ${message}). Check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and that they may read and write the bucket.`,
    );
  if (
    NETWORK_CODES.has(code) ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    /socket hang up|timed? ?out|ECONNREFUSED|ENOTFOUND/i.test(message)
  )
    return fail(
      'STORE_FAILED',
      `Cannot reach ${context.endpoint} for the ${what}: ${code || name || 'network error'} (${message}). Check the endpoint URL, that the server runs and that this host can reach it.`,
    );
  if (name === 'AbortError') return fail('STORE_FAILED', `The ${what} was stopped before it finished.`);
  return fail('STORE_FAILED', `The ${what} failed: ${name ? `${name}: ` : ''}${message}.`);
}
