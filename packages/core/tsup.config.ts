import { packageConfig } from '../../tsup.base.js';

export default packageConfig({
  index: 'src/index.ts',
  testing: 'src/testing/index.ts',
  'backend-kit': 'src/backend-kit/index.ts',
  'git-mirror': 'src/git-mirror/index.ts',
});
