import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../../errors.js';
import type { ServerKeys } from '../../ports/server-keys.js';
import type { SecretBox } from '../../secrets/secret-box.js';
import type { Database } from '../database.js';
import { ServerKeyEntity } from './entities.js';

const PURPOSE = /^[a-z0-9][a-z0-9.-]{0,63}$/;

/**
 * With a secrets.keyFile, each purpose's key is derived from it (nothing stored: a database dump
 * alone cannot forge). Without one, a random key per purpose is made on first use and kept in the
 * database, so every node of the deployment shares it; two nodes racing to make it agree on the
 * first row written.
 */
export class SqlServerKeys implements ServerKeys {
  private readonly cache = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox | null = null,
  ) {}

  key(purpose: string): Promise<Buffer> {
    if (!PURPOSE.test(purpose)) throw new InvalidInputError('a server key purpose is a short lower-case name');
    if (this.secrets) return Promise.resolve(this.secrets.deriveKey(purpose));
    let got = this.cache.get(purpose);
    if (!got) {
      got = this.stored(purpose);
      // A failed read (database down) is tried again next time, not remembered.
      got.catch(() => this.cache.delete(purpose));
      this.cache.set(purpose, got);
    }
    return got;
  }

  private async stored(purpose: string): Promise<Buffer> {
    const read = () => this.db.run((m) => m.findOne(ServerKeyEntity, { where: { purpose } }), 'reading a server key');
    const row = await read();
    if (row) return Buffer.from(row.value, 'base64');
    try {
      await this.db.run((m) => m.insert(ServerKeyEntity, { purpose, value: randomBytes(32).toString('base64'), createdAt: Date.now() }), 'making a server key');
    } catch {
      // Another node made it first: theirs is the key.
    }
    const made = await read();
    if (!made) throw new Error(`server key ${purpose} could not be made`);
    return Buffer.from(made.value, 'base64');
  }
}
