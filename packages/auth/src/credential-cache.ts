import { createHash } from 'node:crypto';

/**
 * Remembers recent successful password verifications for a few minutes, like Dovecot's auth cache:
 * mail clients reconnect many times an hour and each argon2id check costs ~25 ms of CPU. The key is a
 * hash of (account, stored hash, password), so a password change or a different password never hits,
 * and nothing reversible is kept in memory.
 */
export class CredentialCache {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 50_000,
  ) {}

  private key(accountId: string, storedHash: string, password: string): string {
    return createHash('sha256').update(accountId).update('\0').update(storedHash).update('\0').update(password).digest('base64');
  }

  has(accountId: string, storedHash: string, password: string, now: number): boolean {
    if (this.ttlMs <= 0) return false;
    const key = this.key(accountId, storedHash, password);
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires < now) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  remember(accountId: string, storedHash: string, password: string, now: number): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      // Drop the oldest insertions (Map keeps insertion order).
      const excess = this.entries.size - this.maxEntries + 1 + Math.floor(this.maxEntries / 10);
      let i = 0;
      for (const k of this.entries.keys()) {
        if (i++ >= excess) break;
        this.entries.delete(k);
      }
    }
    this.entries.set(this.key(accountId, storedHash, password), now + this.ttlMs);
  }

  clear(): void {
    this.entries.clear();
  }
}
