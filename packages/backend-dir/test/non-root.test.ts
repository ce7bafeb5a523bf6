import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** What the unprivileged child does: the whole fork lifecycle, with read-only directories. */
const CHILD = `
const { mkdirSync, writeFileSync, chmodSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const { createDirBackend } = require(process.argv[2]);
(async () => {
  const backend = createDirBackend({ root: process.argv[3] });
  const fork = { capacityBytes: 1 << 30 };
  const a = await backend.createFork('f1', fork);
  // Like Go's module cache: read-only directories holding read-only files.
  mkdirSync(join(a.mountPath, 'mod', 'pkg'), { recursive: true });
  writeFileSync(join(a.mountPath, 'mod', 'pkg', 'go.mod'), 'module x');
  chmodSync(join(a.mountPath, 'mod', 'pkg', 'go.mod'), 0o444);
  chmodSync(join(a.mountPath, 'mod', 'pkg'), 0o555);
  chmodSync(join(a.mountPath, 'mod'), 0o555);
  await backend.commitFork('f1', 'v1');
  const b = await backend.forkVersion('f2', 'v1', fork);
  const copied = readdirSync(join(b.mountPath, 'mod', 'pkg'));
  await backend.discardFork('f2');
  await backend.removeVersion('v1');
  // A version's directory made unreadable afterwards (chmod 000): its data cannot be read.
  const c = await backend.createFork('f3', fork);
  mkdirSync(join(c.mountPath, 'secret'));
  writeFileSync(join(c.mountPath, 'secret', 'key'), 'k');
  await backend.commitFork('f3', 'v2');
  chmodSync(join(backend.root, 'versions', 'v2', 'secret'), 0o000);
  const unreadable = await backend.forkVersion('f4', 'v2', fork).then(
    () => null,
    (error) => ({ code: error.code, unreadable: error.details.unreadable === true }),
  );
  await backend.removeVersion('v2');
  const left = await backend.list();
  const trash = readdirSync(join(backend.root, 'trash'));
  process.stdout.write(JSON.stringify({ uid: process.getuid(), copied, unreadable, left, trash }));
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
`;

describe.runIf(isRoot)(
  'as an unprivileged user (run when the tests run as root; otherwise every test already is unprivileged)',
  () => {
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cachevol-dir-nonroot-'));
      chmodSync(dir, 0o755);
      await build({
        entry: { 'backend-dir': fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
        outDir: dir,
        format: ['cjs'],
        platform: 'node',
        target: 'node20',
        noExternal: [/.*/],
        config: false,
        dts: false,
        sourcemap: false,
        silent: true,
      });
      writeFileSync(join(dir, 'child.cjs'), CHILD);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('forks, commits and removes read-only directory trees without root; unreadable data is NOT_FOUND', () => {
      const parent = mkdtempSync(join(dir, 'p-'));
      chownSync(parent, NOBODY, NOBODY);
      const result = spawnSync(
        process.execPath,
        [join(dir, 'child.cjs'), join(dir, 'backend-dir.cjs'), join(parent, 'root')],
        {
          uid: NOBODY,
          gid: NOBODY,
          encoding: 'utf8',
        },
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        uid: NOBODY,
        copied: ['go.mod'],
        // Unreadable version data is NOT_FOUND (marked unreadable), so the engine passes it over.
        unreadable: { code: 'NOT_FOUND', unreadable: true },
        left: [],
        trash: [],
      });
    });
  },
);
