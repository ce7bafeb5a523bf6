import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TransferFormat } from '../contracts/backend.js';
import { CacheVolumeError, isCacheVolumeError } from '../errors.js';
import { validateId, validateName } from '../names.js';
import type { OpenedVersion, SendRequest, VersionSource } from './transfer.js';

/**
 * The host agent's protocol: one request per version, over HTTP, every request with the fleet's
 * shared token (`Authorization: Bearer <token>`); nothing is served without it.
 *
 * `GET /v1/versions/<scope>/<name>/<versionId>?base=<id>&base=<id>&format=<format>` answers
 * `200` with the stream as the body (chunked), its format in `x-cachevol-format`, the version it
 * is relative to in `x-cachevol-base` (empty: whole), and its sha256 in the trailer
 * `x-cachevol-sha256`, sent once the stream has ended. `401` for a missing or wrong token,
 * `404` for a version the host does not hold, `400` for bad names, `500` otherwise; errors are
 * JSON `{ code, message }`.
 */
const PREFIX = '/v1/versions/';
const FORMATS: readonly TransferFormat[] = ['tar-zstd', 'btrfs-send', 'zfs-send'];

/** What the agent serves from: a `CacheVolumes` engine's `send`. */
export interface AgentEngine {
  send(
    name: string,
    request: Omit<SendRequest, 'name' | 'scope'> & { scope?: string },
  ): Promise<OpenedVersion>;
}

/** Options for {@link serveVersions}. */
export interface ServeOptions {
  /** The shared token every request must carry; at least 16 characters. */
  token: string;
  /** The address to listen on. @defaultValue `"127.0.0.1"` */
  host?: string;
  /** The port; `0` picks a free one. @defaultValue `0` */
  port?: number;
}

/** A running agent. */
export interface Agent {
  /** `http://<host>:<port>`, for {@link httpVersionSource}. */
  readonly url: string;
  /** Stops accepting requests and ends the open ones. */
  close(): Promise<void>;
}

const MIN_TOKEN = 16;

function checkToken(token: unknown): string {
  if (typeof token === 'string' && token.length >= MIN_TOKEN) return token;
  throw new CacheVolumeError(
    'INVALID_ARGUMENT',
    `The agent needs a shared token of at least ${MIN_TOKEN} characters (e.g. \`openssl rand -hex 32\`): nothing is served without one.`,
  );
}

function authorized(request: IncomingMessage, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function fail(response: ServerResponse, status: number, code: string, message: string): void {
  if (response.headersSent) {
    response.destroy(new Error(message)); // the receiver sees a stream cut short
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message }));
}

const STATUS: Partial<Record<string, number>> = { NOT_FOUND: 404, INVALID_ARGUMENT: 400, CONFLICT: 409 };

/** Parses the request's path and query into a send request (names and ids validated). */
function parseRequest(request: IncomingMessage): Parameters<AgentEngine['send']> {
  const url = new URL(request.url ?? '/', 'http://agent');
  const parts = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length).split('/') : [];
  if (parts.length !== 3) throw new CacheVolumeError('INVALID_ARGUMENT', `No such path: ${url.pathname}.`);
  const [scope, name, versionId] = parts.map(decodeURIComponent) as [string, string, string];
  const formats = url.searchParams
    .getAll('format')
    .filter((f): f is TransferFormat => FORMATS.includes(f as never));
  return [
    validateName(name),
    {
      scope: validateName(scope, 'scope'),
      versionId: validateId(versionId, 'version id'),
      baseIds: url.searchParams.getAll('base').map((id) => validateId(id, 'base version id')),
      formats: formats.length > 0 ? formats : ['tar-zstd'],
    },
  ];
}

/**
 * Serves the versions this host holds to the fleet's other hosts (see the protocol above), from
 * `engine.send`. Requests without the token get `401` and reach nothing.
 *
 * @param engine - this host's engine
 * @param options - token, address, port
 * @throws `INVALID_ARGUMENT` without a token of at least 16 characters
 */
export async function serveVersions(engine: AgentEngine, options: ServeOptions): Promise<Agent> {
  const token = checkToken(options.token);
  const { createServer } = await import('node:http');
  const server: Server = createServer(async (request, response) => {
    if (!authorized(request, token)) return fail(response, 401, 'UNAUTHORIZED', 'A valid token is required.');
    if (request.method !== 'GET') return fail(response, 405, 'INVALID_ARGUMENT', 'Only GET is served.');
    try {
      const [name, sendRequest] = parseRequest(request);
      const opened = await engine.send(name, sendRequest);
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'x-cachevol-format': opened.format,
        'x-cachevol-base': opened.baseId ?? '',
        trailer: 'x-cachevol-sha256',
      });
      // A receiver that goes away stops the sender (leaving the loop stops the stream's tool).
      const gone = new Promise((resolve) => response.once('close', resolve));
      for await (const chunk of opened.stream) {
        if (!response.write(chunk)) await Promise.race([once(response, 'drain'), gone]);
        if (response.destroyed) return;
      }
      response.addTrailers({ 'x-cachevol-sha256': await opened.sha256 });
      response.end();
    } catch (error) {
      const code = isCacheVolumeError(error) ? error.code : 'INTERNAL';
      fail(response, STATUS[code] ?? 500, code, error instanceof Error ? error.message : String(error));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Options for {@link httpVersionSource}. */
export interface HttpSourceOptions {
  /** The other host's agent, e.g. `http://10.0.0.2:7420`. */
  url: string;
  /** The fleet's shared token. */
  token: string;
  /**
   * Give up when no byte arrives for this long, from connecting on (a peer that stopped, a
   * link that went down): the stream then fails, and the receive keeps nothing.
   * @defaultValue 30 000
   */
  idleTimeoutMs?: number;
}

/**
 * A {@link VersionSource} that gets versions from another host's agent ({@link serveVersions}),
 * for `CacheVolumes.pull`. A refused token, a missing version or a failed sender reject `open`;
 * a stream cut short or idle past `idleTimeoutMs` fails while it is read.
 *
 * @param options - the agent's address, the token, the idle timeout
 */
export function httpVersionSource(options: HttpSourceOptions): VersionSource {
  const idleMs = options.idleTimeoutMs ?? 30_000;
  return {
    async open(request) {
      const { request: get } = await import('node:http');
      const url = new URL(
        `${PREFIX}${[request.scope, request.name, request.versionId].map(encodeURIComponent).join('/')}`,
        options.url,
      );
      for (const base of request.baseIds) url.searchParams.append('base', base);
      for (const format of request.formats) url.searchParams.append('format', format);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const sent = get(url, { headers: { authorization: `Bearer ${options.token}` } }, resolve);
        sent.setTimeout(idleMs, () => sent.destroy(timedOut(url, idleMs)));
        sent.once('error', reject);
        sent.end();
      });
      if (response.statusCode !== 200) throw await refusal(url, response);
      response.setTimeout(idleMs, () => response.destroy(timedOut(url, idleMs)));
      let settle: { resolve: (digest: string) => void; reject: (error: unknown) => void } | undefined;
      const sha256 = new Promise<string>((resolve, reject) => {
        settle = { resolve, reject };
      });
      sha256.catch(() => undefined);
      async function* body(): AsyncGenerator<Uint8Array> {
        try {
          for await (const chunk of response) yield chunk as Uint8Array;
        } catch (error) {
          settle?.reject(error);
          throw error;
        }
        const digest = response.trailers['x-cachevol-sha256'];
        // A body that ends without the trailer was cut short: the sender never finished.
        if (!response.complete || typeof digest !== 'string') {
          const error = new CacheVolumeError(
            'BACKEND_FAILED',
            `The stream from ${url.origin} ended before its sender finished it.`,
          );
          settle?.reject(error);
          throw error;
        }
        settle?.resolve(digest);
      }
      const format = response.headers['x-cachevol-format'] as TransferFormat;
      const base = response.headers['x-cachevol-base'];
      return {
        format,
        baseId: typeof base === 'string' && base !== '' ? base : null,
        stream: body(),
        sha256,
      };
    },
  };
}

function timedOut(url: URL, ms: number): CacheVolumeError {
  return new CacheVolumeError(
    'BACKEND_FAILED',
    `No data from ${url.origin} for ${ms} ms: the peer or the link is down.`,
    {
      details: { url: url.origin, idleTimeoutMs: ms },
    },
  );
}

/** The error of a refused request, from its JSON body. */
async function refusal(url: URL, response: IncomingMessage): Promise<CacheVolumeError> {
  let text = '';
  for await (const chunk of response) text += String(chunk);
  let body: { code?: string; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = { message: text };
  }
  const status = response.statusCode ?? 0;
  const code = status === 404 ? 'NOT_FOUND' : status === 400 ? 'INVALID_ARGUMENT' : 'BACKEND_FAILED';
  const why = status === 401 ? 'it refused the token' : (body.message ?? `HTTP ${status}`);
  return new CacheVolumeError(code, `The agent at ${url.origin} did not send the version: ${why}.`, {
    details: { status, url: url.origin },
  });
}
