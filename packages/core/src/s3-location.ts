/**
 * Where an S3 bucket is, checked before any request: the config schema and the S3 blob store both
 * use these rules, so a name that the config accepts is one the store accepts.
 */

/**
 * The bucket naming rules of S3 (docs: "Bucket naming rules"), which also keep a name usable in a
 * virtual-hosted URL: 3 to 63 characters, lower-case letters, digits, dots and hyphens, a letter or
 * digit at each end, no two dots in a row, not an IPv4 address, none of the reserved prefixes and
 * suffixes. Null when `name` is fine, else why not.
 */
export function s3BucketProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'a bucket name';
  if (name.length < 3 || name.length > 63) return 'a bucket name is 3 to 63 characters';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return 'a bucket name has only lower-case letters, digits, dots and hyphens, and a letter or digit at each end';
  if (name.includes('..') || name.includes('.-') || name.includes('-.'))
    return 'a bucket name has no two dots (or a dot and a hyphen) in a row';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'a bucket name is not an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(name))
    return 'a bucket name does not use a prefix or suffix S3 reserves';
  return null;
}

/**
 * An S3 endpoint is an http(s) origin and nothing more: no credentials (they would be sent and
 * logged as part of the URL), no path, query or fragment (the SDK appends the bucket and key).
 */
export function s3EndpointProblem(endpoint: unknown): string | null {
  if (typeof endpoint !== 'string') return 'an http:// or https:// URL';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'an http:// or https:// URL';
  if (url.username || url.password) return 'no credentials in the endpoint URL (use accessKeyId and secretAccessKey)';
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(endpoint))
    return 'the endpoint is scheme, host and port only (no path, query or fragment)';
  return null;
}

/** An S3 region name (`us-east-1`, `eu-west-3`, or a private store's own word). */
export function s3RegionProblem(region: unknown): string | null {
  return typeof region === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(region)
    ? null
    : 'a region name: lower-case letters, digits and hyphens';
}
