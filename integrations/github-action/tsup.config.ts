import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The action's two steps, each bundled into one CommonJS file with nothing to install: the
 * runner runs `node dist/main.cjs` and `node dist/post.cjs` from the repository at the ref a
 * workflow pins, so dist/ is committed; test/github-action.test.ts checks that it matches a
 * fresh build of src/.
 */
export default defineConfig({
  entry: { main: here('src/main.ts'), post: here('src/post.ts') },
  outDir: here('dist'),
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: false,
  minify: false,
  clean: true,
  dts: false,
});
