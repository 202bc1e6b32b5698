import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox } from '../src/secrets/secret-box.js';
import { SqlServerKeys } from '../src/storage/index.js';
import { backends } from './harness.js';

for (const backend of backends) {
  describe(`SqlServerKeys on ${backend.name}`, () => {
    it('makes one random key per purpose on first use, shared by every instance over the database', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const a = new SqlServerKeys(db);
        const b = new SqlServerKeys(db);
        // Two nodes asking at once agree on one key.
        const [ka, kb] = await Promise.all([a.key('sieve-redirect-mark'), b.key('sieve-redirect-mark')]);
        expect(ka).toHaveLength(32);
        expect(kb.equals(ka)).toBe(true);
        expect((await new SqlServerKeys(db).key('sieve-redirect-mark')).equals(ka)).toBe(true);
        const other = await a.key('another-purpose');
        expect(other.equals(ka)).toBe(false);
        expect(() => a.key('Bad Purpose')).toThrow(/purpose/);
      } finally {
        await cleanup();
      }
    });

    it('derives keys from the key file when one is configured, storing nothing', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const kek = randomBytes(32);
        const derived = await new SqlServerKeys(db, createSecretBox(kek)).key('sieve-redirect-mark');
        expect((await new SqlServerKeys(db, createSecretBox(kek)).key('sieve-redirect-mark')).equals(derived)).toBe(true);
        expect((await new SqlServerKeys(db, createSecretBox(randomBytes(32))).key('sieve-redirect-mark')).equals(derived)).toBe(false);
        expect(await db.run((m) => m.query('SELECT purpose FROM server_keys'), 'test')).toEqual([]);
        // Without the key file a random one is made: never the derived one, never a constant.
        const stored = await new SqlServerKeys(db).key('sieve-redirect-mark');
        expect(stored.equals(derived)).toBe(false);
      } finally {
        await cleanup();
      }
    });
  });
}
