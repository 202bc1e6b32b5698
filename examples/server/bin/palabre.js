#!/usr/bin/env node
// The palabre command. The code lives in dist/ (built by `npm install` through the root prepare script).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`palabre: ${error?.message ?? error}`);
    process.exitCode = 1;
  },
);
