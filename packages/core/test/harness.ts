import { testBackends } from '../src/testing/backends.js';

export type { TestBackend as Backend } from '../src/testing/backends.js';
export const backends = await testBackends();
