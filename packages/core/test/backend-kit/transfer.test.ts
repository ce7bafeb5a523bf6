import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  extractTarZstd,
  pipeCommand,
  streamCommand,
  tarZstdStream,
  verifiedInput,
} from '../../src/backend-kit/index.js';
import { CommandFailedError, isCacheVolumeError } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachevol-test-transfer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* chunksOf(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('tar-zstd streams', () => {
  it('carry files, modes, symbolic and hard links, and empty directories', async () => {
    const source = join(dir, 'source');
    await mkdir(join(source, 'node_modules/.bin'), { recursive: true });
    await mkdir(join(source, 'empty'));
    await writeFile(join(source, 'node_modules/tool.js'), '#!/usr/bin/env node\n');
    execFileSync('chmod', ['755', join(source, 'node_modules/tool.js')]);
    await symlink('../tool.js', join(source, 'node_modules/.bin/tool'));
    execFileSync('ln', [join(source, 'node_modules/tool.js'), join(source, 'hard.js')]);

    const target = join(dir, 'target');
    await mkdir(target);
    await extractTarZstd(target, tarZstdStream(source));

    expect(await readFile(join(target, 'node_modules/tool.js'), 'utf8')).toBe('#!/usr/bin/env node\n');
    expect((await stat(join(target, 'node_modules/tool.js'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(target, 'node_modules/.bin/tool'))).toBe('../tool.js');
    const [a, b] = await Promise.all([
      stat(join(target, 'hard.js')),
      stat(join(target, 'node_modules/tool.js')),
    ]);
    expect(a.ino).toBe(b.ino);
    expect((await lstat(join(target, 'empty'))).isDirectory()).toBe(true);
  });

  it('writes nothing outside the target through a symbolic link in the stream', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const build = join(dir, 'build');
    await mkdir(join(build, 'real'), { recursive: true });
    await symlink(outside, join(build, 'evil'));
    await writeFile(join(build, 'real/planted'), 'escaped');
    const archive = join(dir, 'evil.tar');
    // `evil` (a link out), then `evil/planted` (a file through it).
    execFileSync('tar', ['-cf', archive, '-C', build, 'evil']);
    execFileSync('tar', ['-rf', archive, '-C', build, '--transform', 's,^real,evil,', 'real/planted']);
    const compressed = execFileSync('zstd', ['-c', archive]);

    const target = join(dir, 'target');
    await mkdir(target);
    await expect(extractTarZstd(target, chunksOf(compressed))).rejects.toBeInstanceOf(CommandFailedError);
    await expect(stat(join(outside, 'planted'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a member named with ..', async () => {
    const build = join(dir, 'build');
    await mkdir(build);
    await writeFile(join(build, 'f'), 'x');
    const archive = join(dir, 'dots.tar');
    execFileSync('tar', ['-cf', archive, '-C', build, '-P', '--transform', 's,^f,../f,', 'f']);
    const compressed = execFileSync('zstd', ['-c', archive]);
    const target = join(dir, 'deep/target');
    await mkdir(target, { recursive: true });
    await expect(extractTarZstd(target, chunksOf(compressed))).rejects.toBeInstanceOf(CommandFailedError);
    await expect(stat(join(dir, 'deep/f'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('verifiedInput', () => {
  const bytes = Buffer.from('a version, streamed');

  it('passes the bytes through and accepts their digest, also as a promise', async () => {
    const progress: number[] = [];
    const checked = verifiedInput(chunksOf(bytes.subarray(0, 5), bytes.subarray(5)), {
      sha256: Promise.resolve(sha256(bytes)),
      onProgress: (p) => progress.push(p.doneBytes),
    });
    expect(await collect(checked.input)).toEqual(bytes);
    await checked.verify('version v1');
    expect(progress).toEqual([5, bytes.length]);
  });

  it('refuses a stream whose digest differs, and one not read to its end', async () => {
    const corrupt = verifiedInput(chunksOf(bytes), { sha256: sha256(Buffer.from('other')) });
    await collect(corrupt.input);
    const error = await corrupt.verify('version v1').catch((e: unknown) => e);
    expect(isCacheVolumeError(error, 'BACKEND_FAILED')).toBe(true);
    expect((error as { details: { reason: string } }).details.reason).toBe('digest-mismatch');

    const unread = verifiedInput(chunksOf(bytes), { sha256: sha256(bytes) });
    await expect(unread.verify('version v1')).rejects.toThrow(/not read to its end/);
  });
});

describe('streamCommand and pipeCommand', () => {
  it('streamCommand yields the output, then throws the failure of a non-zero exit', async () => {
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of streamCommand('sh', ['-c', 'printf hello; exit 3'])) {
        seen.push(Buffer.from(chunk).toString());
      }
    })().catch((e: unknown) => e);
    expect(seen.join('')).toBe('hello');
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).exitCode).toBe(3);
    expect((await collect(streamCommand('printf', ['hello']))).toString()).toBe('hello');
  });

  it('streamCommand kills the program when the reader stops early', async () => {
    // The program writes a line, then would leave a mark 300 ms later unless it was killed.
    const marker = join(dir, 'still-running');
    for await (const _ of streamCommand('sh', ['-c', `echo started; sleep 0.3; touch ${marker}`])) break;
    await new Promise((resolve) => setTimeout(resolve, 900));
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says what to install when the program is missing, streaming either way', async () => {
    const options = { installHint: 'install the frobnicator' };
    const piped = await pipeCommand('/nonexistent/frob', [], chunksOf(Buffer.alloc(1 << 20)), options).catch(
      (e: unknown) => e,
    );
    expect(isCacheVolumeError(piped, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String(piped)).toMatch(/install the frobnicator/);
    const streamed = await collect(streamCommand('/nonexistent/frob', [], options)).catch((e: unknown) => e);
    expect(isCacheVolumeError(streamed, 'BACKEND_UNAVAILABLE')).toBe(true);
  });

  it('pipeCommand feeds the input and returns the output', async () => {
    expect(await pipeCommand('cat', [], chunksOf(Buffer.from('ab'), Buffer.from('c')))).toBe('abc');
  });

  it('pipeCommand kills the program and throws the error of an input cut short', async () => {
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('part');
      throw new Error('connection reset');
    }
    await expect(pipeCommand('cat', [], cut())).rejects.toThrow('connection reset');
  });

  it('pipeCommand stops the input and throws the failure of a program that exits early', async () => {
    let stopped = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Buffer.alloc(64 * 1024);
      } finally {
        stopped = true;
      }
    }
    const error = await pipeCommand('sh', ['-c', 'exit 4'], endless()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(stopped).toBe(true);
  });
});
