import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { COMMIT_MODES, LINK_METHODS, MAX_FALLBACKS } from '@cachevol/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACH_OPTIONS, FALLBACK_OPTION } from '../src/internal/commands/shared-options.js';
import { BIN, ensureBuilt, tempDir } from './helpers/cli.js';

const RECORDER = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));

/**
 * Text that only the named code's own module holds in the bundle: where it is defined (a
 * caller's `mod.createDirBackend(...)` does not count). The last test checks that each is in
 * the build, so a marker that no longer matches fails rather than passes.
 */
const MARKERS = {
  core: 'var CacheVolumeError = class',
  zod: '$constructor("ZodError"',
  yaml: 'exports.LineCounter = lineCounter.LineCounter;',
  'core-pipeline': 'function parsePipeline(',
  'backend-dir': 'function createDirBackend(',
  'backend-btrfs': 'function createBtrfsBackend(',
  'backend-zfs': 'function createZfsBackend(',
  'backend-sparsebundle': 'function createSparseBundleBackend(',
  'store-sqlite': 'function createSqliteStore(',
  'store-postgres': 'function createPostgresStore(',
  'container-cache': 'async function startDockerEngine(',
} as const;
type Part = keyof typeof MARKERS;

/** What one `cachevol` process loaded: its modules' files, and which parts they hold. */
interface Loaded {
  files: string[];
  parts: Set<Part | 'better-sqlite3' | 'pg'>;
}

describe('what a cachevol command loads (the bundled build)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let count = 0;

  beforeAll(async () => {
    ensureBuilt();
    ({ dir, cleanup } = await tempDir('lazy'));
  });
  afterAll(async () => {
    await cleanup();
  });

  async function loadedBy(args: string[]): Promise<Loaded> {
    const record = join(dir, `loads-${++count}.txt`);
    await promisify(execFile)(process.execPath, ['--import', RECORDER, BIN, ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', CACHEVOL_TEST_LOADS: record },
    });
    const urls = (await readFile(record, 'utf8')).split('\n').filter((url) => url.startsWith('file:'));
    const files = urls.map((url) => fileURLToPath(url)).filter((file) => file !== RECORDER);
    const parts = new Set<Part | 'better-sqlite3' | 'pg'>();
    for (const file of files) {
      if (file.includes('/node_modules/better-sqlite3/')) parts.add('better-sqlite3');
      if (file.includes('/node_modules/pg/')) parts.add('pg');
      const text = readFileSync(file, 'utf8');
      for (const [part, marker] of Object.entries(MARKERS))
        if (text.includes(marker)) parts.add(part as Part);
    }
    return { files, parts };
  }

  it.each(['--help', '--version', 'run --help', 'pipeline --help'])(
    '`cachevol %s` loads the entry file and its small chunks, none of core, zod, a backend or a store',
    async (line) => {
      const { files, parts } = await loadedBy(line.split(' '));
      expect([...parts]).toEqual([]);
      const dist = join(BIN, '..');
      for (const file of files) expect(file.startsWith(dist)).toBe(true);
      const bytes = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
      // 52 KiB: the help of every command and flag (the fleet commands took it past 48).
      expect(bytes).toBeLessThan(52 * 1024);
    },
  );

  it('`cachevol run` on the dir backend loads the dir backend and the SQLite store, no other backend or store, and no YAML parser or pipeline config', async () => {
    const work = join(dir, 'work');
    await mkdir(join(work, 'deps'), { recursive: true });
    const args = ['run', '--root', join(dir, 'root'), '--workdir', work, '--name', 'deps'];
    const { parts } = await loadedBy([...args, '--cache', 'deps', '--', 'true']);
    expect([...parts].sort()).toEqual(
      ['backend-dir', 'better-sqlite3', 'core', 'store-sqlite', 'zod'].sort(),
    );
  });

  it('`cachevol run --container-cache` loads the Docker engine code (which plain `run` does not, as the test above shows)', async () => {
    const work = join(dir, 'container-work');
    await mkdir(work, { recursive: true });
    const { parts } = await loadedBy([
      'run',
      '--root',
      join(dir, 'container-root'),
      '--workdir',
      work,
      '--container-cache',
      'lazy',
      '--dockerd',
      join(dir, 'no-such-dockerd'),
      '--',
      'true',
    ]);
    expect(parts.has('container-cache')).toBe(true);
  });

  it('`cachevol pipeline plan` loads the YAML parser and the pipeline config (so the markers above are live)', async () => {
    const file = join(dir, 'pipeline.yml');
    await writeFile(file, 'cache: deps\nsteps:\n  - command: "true"\n');
    const { parts } = await loadedBy([
      'pipeline',
      'plan',
      file,
      '--slug',
      'p',
      '--root',
      join(dir, 'plan-root'),
    ]);
    expect(parts.has('yaml')).toBe(true);
    expect(parts.has('core-pipeline')).toBe(true);
  });

  it('each marker is in exactly one file of the build', async () => {
    const chunks = join(BIN, '..', 'cli');
    const files = [
      BIN,
      ...(await readdir(chunks)).filter((f) => f.endsWith('.cjs')).map((f) => join(chunks, f)),
    ];
    const texts = files.map((file) => readFileSync(file, 'utf8'));
    for (const marker of Object.values(MARKERS))
      expect([marker, texts.filter((text) => text.includes(marker)).length]).toEqual([marker, 1]);
  });

  it('the bundle holds no execa: every backend runs its tools through the backend kit of core', async () => {
    const chunks = join(BIN, '..', 'cli');
    const files = [
      BIN,
      ...(await readdir(chunks)).filter((f) => f.endsWith('.cjs')).map((f) => join(chunks, f)),
    ];
    const withExeca = files.filter((file) => readFileSync(file, 'utf8').includes('var ExecaError = class'));
    expect(withExeca).toEqual([]);
    // ...while the kit's runner is there, in the core chunk the backends share.
    expect(files.filter((file) => readFileSync(file, 'utf8').includes('function spawnCommand(')).length).toBe(
      1,
    );
  });

  it('the bundle holds no zod translation but English', async () => {
    const chunks = join(BIN, '..', 'cli');
    const maps = [
      `${BIN}.map`,
      ...(await readdir(chunks)).filter((f) => f.endsWith('.cjs.map')).map((f) => join(chunks, f)),
    ];
    const sources = maps.flatMap(
      (map) => (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources,
    );
    expect(sources.some((source) => source.includes('node_modules/zod/'))).toBe(true);
    // tsup.config.ts leaves them out; zod's schemas import English themselves.
    const locales = sources.filter((source) => /node_modules\/zod\/v4\/locales\//.test(source));
    expect([...new Set(locales.map((source) => source.replace(/.*\//, '')))]).toEqual(['en.js']);
  });

  it('the bundle’s zod reads the setting src/bin.ts makes it parse with (jitless)', async () => {
    const chunks = join(BIN, '..', 'cli');
    const texts = await Promise.all(
      (await readdir(chunks)).filter((f) => f.endsWith('.cjs')).map((f) => readFile(join(chunks, f), 'utf8')),
    );
    expect(texts.filter((text) => text.includes('globalThis.__zod_globalConfig')).length).toBe(1);
    expect(texts.some((text) => /if \(globalConfig\.jitless\)/.test(text))).toBe(true);
    expect(readFileSync(BIN, 'utf8')).toContain('__zod_globalConfig = { jitless: true }');
  });

  it('the commit modes `--help` spells out (it loads no core) are core’s COMMIT_MODES', () => {
    expect(ATTACH_OPTIONS.commit.description).toContain(`when to commit: ${COMMIT_MODES.join(', ')} (`);
  });

  it('the link methods `--help` spells out are core’s LINK_METHODS', () => {
    const spelled = ATTACH_OPTIONS.link.description.match(/\b(auto|bind|symlink)\b(?= \(|,|$)/g);
    expect([...new Set(spelled)]).toEqual([...LINK_METHODS]);
  });

  it('the fallback limit `--help` spells out is core’s MAX_FALLBACKS', () => {
    expect(FALLBACK_OPTION.fallback.description).toContain(`at most ${MAX_FALLBACKS};`);
  });
});
