import { defineConfig } from 'vitest/config';

// One run over every package: `npm test` builds the packages (turbo), then runs this.
// CI sets PALABRE_TEST_REPORT to also get a machine-readable summary of the very same run.
const report = process.env.PALABRE_TEST_REPORT;

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
