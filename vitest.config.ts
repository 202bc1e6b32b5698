import { defineConfig } from 'vitest/config';

// One run over every package: `npm test` builds the packages (turbo), then runs this.
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
  },
});
