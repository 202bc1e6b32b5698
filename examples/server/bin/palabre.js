#!/usr/bin/env node
'use strict';
// The palabre command; the code lives in dist/ (built by `npm install` through the root prepare script).
//
// libuv's thread pool runs file I/O (blob writes, fsync), DNS lookups and argon2. Its default of 4
// threads queues up under a mail server's load, and its size is read once, at first use. This entry
// point is CommonJS so that it runs before any module that could start the pool.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';

import('../dist/cli.js').then(
  ({ main }) =>
    main(process.argv.slice(2)).then((code) => {
      process.exitCode = code;
    }),
  (error) => {
    console.error(`palabre: cannot start: ${error && error.message ? error.message : error}`);
    process.exitCode = 1;
  },
);
