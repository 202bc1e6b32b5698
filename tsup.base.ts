import { defineConfig, type Options } from 'tsup';

/** How every package builds: ESM for Node 20 with type declarations and source maps. */
export function libraryBuild(entry: Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: true,
    ...extra,
  });
}
