/**
 * The object store contract: the durable tier between hosts (an S3-compatible bucket, or memory
 * in tests). The engine uploads committed versions to it as streams and restores them from it
 * on hosts that lack them.
 *
 * ## Rules
 * - The store only holds bytes under keys. It never says what is committed: the engine's
 *   `Store` does (an object counts only once its record is `present`, after its upload
 *   finished), so an object the bucket holds without a record is garbage, never data.
 * - Keys are made by the engine, unique and never reused (`<scope>/<name>/<versionId>/<random>.<format>`),
 *   so a key is written once and never overwritten: a put needs no conditional write (which
 *   some S3-compatible servers do not enforce).
 * - Failures are `CacheVolumeError`s: `NOT_FOUND` for a key that is not there, `STORE_FAILED`
 *   for a store that cannot be reached or refuses the request (with a message that says what to
 *   check: the endpoint, the bucket, the credentials).
 */
export interface ObjectStore {
  /** For messages, e.g. `"s3://bucket/prefix"`. */
  readonly name: string;
  /**
   * Writes an object from a stream; keys are never overwritten (callers use unique keys).
   * Resolves once the whole object is stored. A stream that fails, or an aborted `signal`,
   * rejects and leaves no object under the key (or a partial one that a later `delete` removes).
   *
   * @param key - the object's key
   * @param body - its bytes
   * @param options - `signal` stops the upload
   * @returns the number of bytes stored
   */
  put(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options?: { signal?: AbortSignal },
  ): Promise<{ bytes: number }>;
  /**
   * Reads an object as a stream.
   * - Missing key: `CacheVolumeError` `NOT_FOUND`.
   *
   * @param key - the object's key
   * @param options - `signal` stops the download
   */
  get(key: string, options?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Deletes objects. Keys that are not there are no error (a retry after a crash is safe).
   *
   * @param keys - the objects' keys
   */
  delete(keys: readonly string[]): Promise<void>;
  /** Frees connections and sockets; the store is not used after it. */
  close?(): Promise<void>;
}
