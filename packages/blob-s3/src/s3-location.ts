import { InvalidInputError, s3BucketProblem, s3EndpointProblem, s3RegionProblem } from '@palabre/core';

export interface S3Location {
  /** The object store's origin (`https://s3.example.gouv.tg`); absent: AWS's own for the region. */
  readonly endpoint?: string;
  readonly bucket: string;
  readonly region: string;
  /** `https://host/bucket/key` rather than `https://bucket.host/key` (default true: Swift, MinIO, Ceph). */
  readonly forcePathStyle?: boolean;
}

/** InvalidInputError naming the field, before any client is made or request sent. */
export function checkS3Location(location: S3Location): void {
  const problem =
    (location.endpoint !== undefined && s3EndpointProblem(location.endpoint) && `S3 endpoint: ${s3EndpointProblem(location.endpoint)}`) ||
    (s3BucketProblem(location.bucket) && `S3 bucket: ${s3BucketProblem(location.bucket)}`) ||
    (s3RegionProblem(location.region) && `S3 region: ${s3RegionProblem(location.region)}`);
  if (problem) throw new InvalidInputError(problem);
}
