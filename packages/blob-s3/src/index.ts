export { S3BlobStore, createS3Client } from './s3-blob-store.js';
export type { S3BlobStoreOptions, S3ServerSideEncryption } from './s3-blob-store.js';
export { checkS3Location } from './s3-location.js';
export type { S3Location } from './s3-location.js';
