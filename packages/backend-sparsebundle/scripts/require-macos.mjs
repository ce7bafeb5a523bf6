// Guard for `npm run test:macos`: the real-hdiutil suite only means something on macOS.
import { existsSync } from 'node:fs';

const HDIUTIL = '/usr/bin/hdiutil';

if (process.platform !== 'darwin' || !existsSync(HDIUTIL)) {
  console.error(
    `test:macos: this needs macOS with hdiutil (${HDIUTIL}); this host is ${process.platform}${
      process.platform === 'darwin' ? ` without ${HDIUTIL}` : ''
    }. On Linux, \`npx vitest run packages/backend-sparsebundle\` runs the argv, plist and simulator tests.`,
  );
  process.exit(1);
}
