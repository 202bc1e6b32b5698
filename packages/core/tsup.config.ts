import { libraryBuild } from '../../tsup.base.js';

export default libraryBuild({ index: 'src/index.ts', 'storage/index': 'src/storage/index.ts', 'testing/index': 'src/testing/index.ts' });
