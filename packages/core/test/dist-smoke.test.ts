import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The built packages load in plain Node, from CommonJS and from ESM, as a user would load them. */
describe('built dist', () => {
  const run = (args: string[]) => execFileSync(process.execPath, args, { encoding: 'utf8' }).trim();
  const program = (load: string) =>
    `${load}; const volumes = new core.CacheVolumes({ backend: mem.createMemoryBackend(), store: core.createMemoryStore(), host: 'h' });` +
    `volumes.attach('v').then((f) => f.commit()).then(() => volumes.attach('v')).then((f) => console.log(f.result, core.parseSize('20g')));`;

  it('works from CommonJS', () => {
    expect(
      run([
        '-e',
        program("const core = require('@cachevol/core'); const mem = require('@cachevol/backend-memory')"),
      ]),
    ).toBe('hit 21474836480');
  });

  it('works from ESM', () => {
    const load =
      "const core = await import('@cachevol/core'); const mem = await import('@cachevol/backend-memory')";
    expect(run(['--input-type=module', '-e', program(load)])).toBe('hit 21474836480');
  });

  it('loads the backend kit from CommonJS and ESM, its errors recognised by core', () => {
    const program = [
      "import { createRequire } from 'node:module';",
      "const kit = createRequire(process.cwd() + '/')('@cachevol/core/backend-kit');",
      "const esmKit = await import('@cachevol/core/backend-kit');",
      "const core = await import('@cachevol/core');",
      'const codes = [];',
      'for (const k of [kit, esmKit]) {',
      "  try { k.checkCapacity({ capacityBytes: 0 }); } catch (e) { codes.push(core.isCacheVolumeError(e, 'INVALID_ARGUMENT')); }",
      '}',
      'console.log(JSON.stringify(codes));',
    ].join('\n');
    expect(run(['--input-type=module', '-e', program])).toBe('[true,true]');
  });

  it('loads the git mirror helper from CommonJS and ESM, its errors recognised by core', () => {
    const program = [
      "import { createRequire } from 'node:module';",
      "const cjs = createRequire(process.cwd() + '/')('@cachevol/core/git-mirror');",
      "const esm = await import('@cachevol/core/git-mirror');",
      "const core = await import('@cachevol/core');",
      'const codes = [typeof cjs.checkoutFromMirror, typeof esm.checkoutFromMirror];',
      'for (const m of [cjs, esm]) {',
      "  try { m.validateRepositoryUrl('ext::sh'); } catch (e) { codes.push(core.isCacheVolumeError(e, 'INVALID_ARGUMENT')); }",
      '}',
      'console.log(JSON.stringify(codes));',
    ].join('\n');
    expect(run(['--input-type=module', '-e', program])).toBe('["function","function",true,true]');
  });

  it('recognises an error made by another copy of core (ESM and CommonJS builds)', () => {
    const program = [
      "import { createRequire } from 'node:module';",
      "const cjs = createRequire(process.cwd() + '/')('@cachevol/core');",
      "const esm = await import('@cachevol/core');",
      "const made = new esm.CacheVolumeError('NOT_FOUND', 'gone');",
      "const failed = new cjs.CommandFailedError({ command: 'zfs', args: [], exitCode: 1, stderr: '' });",
      'console.log(JSON.stringify([',
      '  esm.CacheVolumeError === cjs.CacheVolumeError,',
      '  made instanceof cjs.CacheVolumeError,',
      "  cjs.isCacheVolumeError(made, 'NOT_FOUND'),",
      "  cjs.isCacheVolumeError(made, 'CONFLICT'),",
      '  failed instanceof esm.CommandFailedError,',
      '  failed instanceof esm.CacheVolumeError,',
      '  made instanceof esm.CommandFailedError,',
      "  new Error('plain') instanceof esm.CacheVolumeError,",
      "  esm.isCacheVolumeError({ code: 'NOT_FOUND' }),",
      ']));',
    ].join('\n');
    expect(JSON.parse(run(['--input-type=module', '-e', program]))).toEqual([
      false,
      true,
      true,
      false,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
