#!/usr/bin/env node
// A one-node OpenStack Swift with s3api on loopback (core's test helper) for the cluster checks:
// creates the bucket named by argv[3], writes the S3 location as JSON to argv[2] once it answers, and
// runs until SIGTERM/SIGINT, then stops every Swift server it started.
import { writeFileSync } from 'node:fs';
import { S3BlobStore } from '@palabre/blob-s3';
import { startSwift } from '@palabre/core/testing';

const [out, bucket] = process.argv.slice(2);
const swift = await startSwift();
const location = { endpoint: swift.endpoint, bucket, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey };
await new S3BlobStore({ ...location, prefix: 'probe/' }).createBucket();
writeFileSync(out, JSON.stringify(location), { mode: 0o600 });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await swift.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => undefined, 60_000);
