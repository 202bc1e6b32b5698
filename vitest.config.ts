import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One run over every package: `npm test` builds the packages (turbo), then runs this.
// CI sets PALABRE_TEST_REPORT to also get a machine-readable summary of the very same run.
const report = process.env.PALABRE_TEST_REPORT;

// Tests that drive a Debian program skip where it is missing (core/testing skipWithout) and note it in
// this file; the run ends with one line naming them and the command that installs them all. Set here,
// in the main process, so every test worker inherits it.
const skipped = join(tmpdir(), `palabre-skipped-programs-${process.pid}.txt`);
process.env.PALABRE_SKIPPED_PROGRAMS = skipped;
const skippedPrograms = {
  onTestRunEnd() {
    if (!existsSync(skipped)) return;
    const names = [...new Set(readFileSync(skipped, 'utf8').split('\n').filter(Boolean))].sort();
    rmSync(skipped, { force: true });
    if (names.length > 0) {
      console.log(`\nSkipped tests that need programs not installed here (Debian packages): ${names.join(', ')}. Install them all with: sudo bash .ci/install-deps.sh`);
    }
  },
};

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
    reporters: report ? ['default', ['json', { outputFile: report }], skippedPrograms] : ['default', skippedPrograms],
  },
});
