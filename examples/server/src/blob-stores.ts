import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError, type BlobStore, type PalabreConfig, type S3Config } from '@palabre/core';
import { createFsBlobStore } from '@palabre/core/storage';
import { readPrivateFile } from './private-file.js';

/** The blob features: each has a store of its own, collects its own garbage and never sees the others' blobs. */
export type BlobFeatureName = 'mail' | 'drive';

export interface BlobStores {
  readonly mail: BlobStore;
  readonly drive: BlobStore;
}

export interface OpenedBlobStores {
  readonly stores: BlobStores;
  /** Make what a fresh site lacks until its first blob (the folders), so that only one lost later is unready. */
  prepare(): Promise<void>;
  /** Where the bytes are, in words (no secret). */
  readonly where: string;
  close(): Promise<void>;
}

/** Where a feature's blob store keeps its bytes inside the data folder (`<data>/blobs/mail`, `…/drive`). */
export function blobFolderIn(dataDir: string, feature: BlobFeatureName): string {
  return join(dataDir, 'blobs', feature);
}

/**
 * The blob stores of mail and the drive, built once from `blobs` in the config: the only place that
 * knows which kind they are (everything else sees core's BlobStore port). On S3 both share one client
 * (one connection pool) and one bucket, a prefix each.
 */
export async function openBlobStores(config: PalabreConfig): Promise<OpenedBlobStores> {
  if (config.blobs.kind === 's3') return openS3(config.blobs.s3!);
  const folders = { mail: blobFolderIn(config.dataDir, 'mail'), drive: blobFolderIn(config.dataDir, 'drive') };
  const stores = { mail: createFsBlobStore(folders.mail), drive: createFsBlobStore(folders.drive) };
  return {
    stores,
    where: `folders ${folders.mail}, ${folders.drive}`,
    async prepare() {
      for (const folder of Object.values(folders)) await mkdir(folder, { recursive: true });
    },
    async close() {
      await Promise.all([stores.mail.close(), stores.drive.close()]);
    },
  };
}

async function openS3(s3: S3Config): Promise<OpenedBlobStores> {
  const secretAccessKey = s3SecretOf(s3);
  // Loaded only here: a site on folders never loads the SDK (its memory, its start-up time).
  const { S3BlobStore, createS3Client } = await import('@palabre/blob-s3');
  const location = {
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    bucket: s3.bucket,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
  };
  const client = createS3Client({ ...location, accessKeyId: s3.accessKeyId, secretAccessKey, maxAttempts: s3.maxAttempts });
  const common = {
    ...location,
    accessKeyId: s3.accessKeyId,
    secretAccessKey,
    client,
    partBytes: s3.partBytes,
    ...(s3.sse ? { sse: s3.sse } : {}),
  };
  const stores = { mail: new S3BlobStore({ ...common, prefix: 'mail/' }), drive: new S3BlobStore({ ...common, prefix: 'drive/' }) };
  return {
    stores,
    where: `S3 bucket ${s3.bucket}${s3.endpoint ? ` at ${s3.endpoint}` : ''} (mail/, drive/)`,
    async prepare() {},
    async close() {
      client.destroy();
    },
  };
}

/** The secret key from the config or its file (PALABRE_S3_SECRET_ACCESS_KEY is put in the config by loadConfig). */
function s3SecretOf(s3: S3Config): string {
  if (s3.secretAccessKey) return s3.secretAccessKey;
  if (s3.secretAccessKeyFile) {
    const secret = readPrivateFile(s3.secretAccessKeyFile, 'blobs.s3.secretAccessKeyFile').trim();
    if (!secret) throw new InvalidInputError(`blobs.s3.secretAccessKeyFile ${s3.secretAccessKeyFile} is empty`);
    return secret;
  }
  throw new InvalidInputError(
    'blobs.s3: no secret access key (secretAccessKeyFile, or the environment variable PALABRE_S3_SECRET_ACCESS_KEY)',
  );
}
