import type { S3Client } from '@aws-sdk/client-s3';
import type { Swift } from '@palabre/core/testing';
import { createS3Client, S3BlobStore, type S3BlobStoreOptions } from '../src/index.js';

/** Options of a store on the test Swift. */
export function swiftOptions(swift: Swift, bucket: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  return {
    endpoint: swift.endpoint,
    region: swift.region,
    bucket,
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
    forcePathStyle: true,
    ...extra,
  };
}

/** A client of our own, for what the store never does (making buckets, damaging objects). */
export function adminClient(swift: Swift): S3Client {
  return createS3Client({
    endpoint: swift.endpoint,
    region: swift.region,
    bucket: 'admin',
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
  });
}

/** Make a bucket through the store itself (createBucket). */
export async function makeBucket(swift: Swift, bucket: string): Promise<void> {
  const store = new S3BlobStore(swiftOptions(swift, bucket));
  try {
    await store.createBucket();
  } finally {
    await store.close();
  }
}

let n = 0;
/** A store on its own prefix, so each test starts from an empty store. */
export function freshStore(swift: Swift, bucket: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore(swiftOptions(swift, bucket, { prefix: `t${process.pid}-${Date.now()}-${n++}/`, ...extra }));
}
