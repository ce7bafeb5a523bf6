import { packageConfig } from '../../tsup.base.js';

export default packageConfig({ index: 'src/index.ts', testing: 'src/testing/index.ts' }, ['p-queue', 'eventemitter3', 'p-timeout']);
