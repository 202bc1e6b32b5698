import { createHash } from 'node:crypto';

/** A bounded set of keys that expire: "did this happen in the last few minutes?" */
export class ExpiringSet {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

  has(key: string, now: number): boolean {
    if (this.ttlMs <= 0) return false;
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires < now) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  add(key: string, now: number): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      // Drop the oldest insertions (a Map keeps insertion order).
      const excess = this.entries.size - this.maxEntries + 1 + Math.floor(this.maxEntries / 10);
      let i = 0;
      for (const k of this.entries.keys()) {
        if (i++ >= excess) break;
        this.entries.delete(k);
      }
    }
    this.entries.delete(key);
    this.entries.set(key, now + this.ttlMs);
  }

  /** True if the key was already there (and fresh); records it either way. */
  seen(key: string, now: number): boolean {
    const present = this.has(key, now);
    if (!present) this.add(key, now);
    return present;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Remembers recent successful password verifications for a few minutes, like Dovecot's auth cache:
 * mail clients reconnect many times an hour, DAV clients authenticate every request, and each argon2id
 * check costs ~25 ms of CPU. The key is a hash of (account, stored hash, password), so a password change
 * or a different password never hits, and nothing reversible is kept in memory.
 */
export class CredentialCache {
  private readonly set: ExpiringSet;

  constructor(ttlMs = 5 * 60_000, maxEntries = 50_000) {
    this.set = new ExpiringSet(ttlMs, maxEntries);
  }

  private key(accountId: string, storedHash: string, password: string): string {
    return createHash('sha256').update(accountId).update('\0').update(storedHash).update('\0').update(password).digest('base64');
  }

  has(accountId: string, storedHash: string, password: string, now: number): boolean {
    return this.set.has(this.key(accountId, storedHash, password), now);
  }

  remember(accountId: string, storedHash: string, password: string, now: number): void {
    this.set.add(this.key(accountId, storedHash, password), now);
  }

  clear(): void {
    this.set.clear();
  }
}
