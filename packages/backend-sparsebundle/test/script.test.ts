import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

it('npm run test:macos refuses to start without macOS and hdiutil, saying so', async () => {
  const result = await execa('node', ['scripts/require-macos.mjs'], { cwd: packageDir, reject: false });
  if (process.platform === 'darwin') {
    expect(result.exitCode).toBe(0);
  } else {
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/this needs macOS with hdiutil/);
  }
});
