import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDirBackend } from '../src/index.js';
import { rejection, tempDir } from './helpers.js';

// A system whose `cp` is not GNU coreutils' (BusyBox's, as on Alpine): this file puts a fake
// one first on PATH. It records each run in a log, prints what BusyBox prints for
// `--version`, and refuses the options the backend's copies use, as BusyBox's does.
const FAKE_CP = `#!/bin/sh
echo "$*" >> "$CP_LOG"
if [ "$1" = "--version" ]; then echo "BusyBox v1.36.1 (2024-06-10) multi-call binary."; exit 1; fi
echo "cp: unrecognized option '--reflink=never'" >&2
exit 1
`;

const path = process.env.PATH;
afterEach(() => {
  process.env.PATH = path;
});

describe('the dir backend on a system whose cp is not GNU coreutils', () => {
  it('starts no process when it is created, and refuses a copy as BACKEND_UNAVAILABLE saying what to install', async () => {
    const dir = tempDir();
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'cp'), FAKE_CP);
    await chmod(join(bin, 'cp'), 0o755);
    const log = join(dir, 'cp.log');
    await writeFile(log, '');
    process.env.CP_LOG = log;
    process.env.PATH = `${bin}:${path}`;

    const backend = createDirBackend({ root: join(dir, 'root'), reflink: 'never' });
    expect(await readFile(log, 'utf8')).toBe('');

    // An empty fork and its commit copy nothing, so they work.
    const { mountPath } = await backend.createFork('f-1', { capacityBytes: 1 << 30 });
    await writeFile(join(mountPath, 'a'), 'x');
    await backend.commitFork('f-1', 'v-1');
    // Forking the version copies it with cp: refused, with the package to install.
    const error = await rejection(backend.forkVersion('f-2', 'v-1', { capacityBytes: 1 << 30 }));
    expect(error).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(String((error as Error).message)).toMatch(/not GNU coreutils.*install coreutils/);
    expect((await readFile(log, 'utf8')).split('\n').filter(Boolean)).toEqual([
      expect.stringContaining('-a -T --reflink=never'),
      '--version',
    ]);
  });
});
