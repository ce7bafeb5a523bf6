import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Agent,
  type AgentEngine,
  CacheVolumes,
  createMemoryStore,
  httpVersionSource,
  type Store,
  serveVersions,
} from '@cachevol/core';
import { noise } from '@cachevol/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createDirBackend, type DirBackend } from '../src/index.js';
import { tempDir } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef';

function host(name: string, store: Store) {
  const backend = createDirBackend({ root: tempDir() });
  return { backend, volumes: new CacheVolumes({ backend, store, host: name }) };
}

const versionsIn = async (backend: DirBackend) =>
  (await backend.list()).filter((e) => e.kind === 'version').map((e) => e.id);

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
});

async function serve(engine: AgentEngine, token = TOKEN): Promise<Agent> {
  const agent = await serveVersions(engine, { token });
  agents.push(agent);
  return agent;
}

/** Host A with one committed version of `deps` holding 1 MiB of noise, and host B. */
async function twoHosts() {
  const store = createMemoryStore();
  const a = host('a', store);
  const b = host('b', store);
  const job = await a.volumes.attach('deps');
  await writeFile(join(job.mountPath, 'deps.bin'), noise(1 << 20));
  const version = await job.commit();
  return { a, b, version };
}

describe('the host agent: versions over HTTP between hosts, with the shared token', () => {
  it('B pulls the head from A over HTTP and attaches it as a hit', async () => {
    const { a, b, version } = await twoHosts();
    const agent = await serve(a.volumes);
    const pulled = await b.volumes.pull('deps', {
      from: httpVersionSource({ url: agent.url, token: TOKEN }),
    });
    expect(pulled).toMatchObject({ versionId: version.id, received: true, format: 'tar-zstd' });
    const fork = await b.volumes.attach('deps');
    expect(fork.result).toBe('hit');
    expect((await readFile(join(fork.mountPath, 'deps.bin'))).equals(Buffer.from(noise(1 << 20)))).toBe(true);
  });

  it('refuses a wrong token, and B keeps nothing', async () => {
    const { a, b } = await twoHosts();
    const agent = await serve(a.volumes);
    const source = httpVersionSource({ url: agent.url, token: 'wrong-token-0123456789abcdef' });
    await expect(b.volumes.pull('deps', { from: source })).rejects.toThrow(/refused the token/);
    expect(await versionsIn(b.backend)).toEqual([]);
    expect((await b.volumes.lookup('deps')).result).toBe('miss');
  });

  it('will not start without a token long enough to be one', async () => {
    const { a } = await twoHosts();
    for (const token of ['', 'short', undefined]) {
      await expect(serveVersions(a.volumes, { token: token as string })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
  });

  it('a sender that fails mid-stream leaves nothing on B', async () => {
    const { a, b } = await twoHosts();
    const dying: AgentEngine = {
      async send(name, request) {
        const opened = await a.volumes.send(name, request);
        async function* dies(): AsyncGenerator<Uint8Array> {
          let sent = 0;
          for await (const chunk of opened.stream) {
            yield chunk;
            sent += chunk.length;
            if (sent > 64 * 1024) throw new Error('sender killed');
          }
        }
        return { ...opened, stream: dies() };
      },
    };
    const agent = await serve(dying);
    await expect(
      b.volumes.pull('deps', { from: httpVersionSource({ url: agent.url, token: TOKEN }) }),
    ).rejects.toThrow();
    expect(await versionsIn(b.backend)).toEqual([]);
    const slice = await b.volumes.lookup('deps');
    expect(slice.result).toBe('miss');
  });

  it('a sender that stops sending fails the pull within the idle timeout', async () => {
    const { a, b } = await twoHosts();
    let release: () => void = () => undefined;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stalling: AgentEngine = {
      async send(name, request) {
        const opened = await a.volumes.send(name, request);
        async function* stalls(): AsyncGenerator<Uint8Array> {
          for await (const chunk of opened.stream) {
            yield chunk;
            await stalled;
          }
        }
        return { ...opened, stream: stalls() };
      },
    };
    const agent = await serve(stalling);
    const started = Date.now();
    const source = httpVersionSource({ url: agent.url, token: TOKEN, idleTimeoutMs: 300 });
    await expect(b.volumes.pull('deps', { from: source })).rejects.toThrow(/No data from/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await versionsIn(b.backend)).toEqual([]);
    release();
  });

  it('answers 401 to a request without the token, and 400 to names that are not names', async () => {
    const { a, version } = await twoHosts();
    const agent = await serve(a.volumes);
    const path = `/v1/versions/default/deps/${version.id}`;
    expect((await fetch(`${agent.url}${path}`)).status).toBe(401);
    expect(
      (await fetch(`${agent.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status,
    ).toBe(401);
    const authorized = { headers: { authorization: `Bearer ${TOKEN}` } };
    for (const bad of [
      '/v1/versions/default/..%2F..%2Fetc/v1',
      '/v1/versions/bad%20scope/deps/v1',
      '/v1/versions/default/deps/..',
      '/v1/other',
    ]) {
      const response = await fetch(`${agent.url}${bad}`, authorized);
      expect(response.status, bad).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe('INVALID_ARGUMENT');
    }
    expect((await fetch(`${agent.url}${path}`, { ...authorized, method: 'POST' })).status).toBe(405);
    expect((await fetch(`${agent.url}${path}`, authorized)).status).toBe(200);
  });

  it('stops the sender when the receiver goes away mid-stream', async () => {
    const { a, version } = await twoHosts();
    let stopped = false;
    const watched: AgentEngine = {
      async send(name, request) {
        const opened = await a.volumes.send(name, request);
        // More than the socket buffers hold, so the agent waits for the receiver to read.
        async function* endless(): AsyncGenerator<Uint8Array> {
          try {
            for await (const chunk of opened.stream) for (let i = 0; i < 1000; i++) yield chunk;
          } finally {
            stopped = true;
          }
        }
        return { ...opened, stream: endless() };
      },
    };
    const agent = await serve(watched);
    const aborting = new AbortController();
    const response = await fetch(`${agent.url}/v1/versions/default/deps/${version.id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: aborting.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the buffers fill: the agent waits
    aborting.abort();
    await expect.poll(() => stopped, { timeout: 5000 }).toBe(true);
  });

  it('answers NOT_FOUND for a version the serving host does not hold', async () => {
    const { b } = await twoHosts();
    const c = host('c', createMemoryStore());
    const agent = await serve(c.volumes);
    const error = await b.volumes
      .pull('deps', { from: httpVersionSource({ url: agent.url, token: TOKEN }) })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('NOT_FOUND');
  });
});
