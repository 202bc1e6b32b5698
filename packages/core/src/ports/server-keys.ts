/**
 * Keys the server uses to authenticate what it writes for itself (a Sieve redirect mark): never a
 * constant in the code, the same on every node of a deployment, distinct per purpose.
 */
export interface ServerKeys {
  /** 32 bytes for this purpose; created on first use when it does not exist yet. */
  key(purpose: string): Promise<Buffer>;
}
