import { libraryBuild } from '../../tsup.base.js';

export default libraryBuild({ index: 'src/index.ts' });
